/* edu-quiz: deterministic grading of a student's answers against an answer key. Pure.
 *
 * Tool `grade` {key: [{id, answer, accept?, points?}], answers: {id: answer}}: each answer is
 * compared with the key's answer and its accepted alternatives after normalising (case, spaces,
 * surrounding punctuation, a leading article, "(b)" / "b)" / "B." for choices); when both sides
 * are numbers ("0.5", "1/2", "0,5", "1,000", "50%") they are compared as numbers. The same
 * answers always get the same grade: the model writes feedback, the grader decides the score.
 */
#include "../common/edu.h"

/* A JSON string or number, decoded to text. */
static bool scalar_text(Str v, Buf *out) {
  buf_init(out, v.n + 8);
  if (v.n && v.p[0] == '"') return json_string(v, out);
  if (v.n == 0 || v.p[0] == '{' || v.p[0] == '[') return false;
  buf_put(out, v.p, v.n);
  return true;
}

static bool trim_char(char c) {
  return c == ' ' || c == '.' || c == ',' || c == ';' || c == ':' || c == '!' || c == '?' || c == '"' ||
         c == '\'' || c == '(' || c == ')' || c == '[' || c == ']' || c == '\t' || c == '\n';
}

/* Lower case, single spaces, no surrounding punctuation, no leading "the/a/an". */
static Str normalise(Str s) {
  Buf b;
  buf_init(&b, s.n + 1);
  const char *p = s.p, *end = s.p + s.n;
  while (p < end && trim_char(*p) && !(*p == '.' && p + 1 < end && cp_is_digit((u8)p[1]))) p++; /* keep .5 */
  while (end > p && trim_char(end[-1])) end--;
  bool blank = false;
  while (p < end) {
    int len;
    u32 c = utf8_at(p, end, &len);
    p += len;
    if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
      blank = b.len > 0;
      continue;
    }
    if (blank) buf_putc(&b, ' ');
    blank = false;
    utf8_put(&b, cp_lower(c));
  }
  Str out = buf_str(&b);
  static const char *const ARTICLES[] = {"the ", "a ", "an ", NULL};
  for (const char *const *a = ARTICLES; *a; a++) {
    size_t n = cstr_len(*a);
    if (out.n > n && mem_eq(out.p, *a, n)) return (Str){out.p + n, out.n - n};
  }
  return out;
}

/* Parse digits with an optional decimal part; "1,000" groups thousands, "0,5" is a decimal. */
static bool parse_decimal(const char *p, const char *end, double *out) {
  double v = 0, scale = 0;
  int digits = 0;
  bool negative = p < end && *p == '-';
  if (p < end && (*p == '-' || *p == '+')) p++;
  for (; p < end; p++) {
    if (cp_is_digit((u8)*p)) {
      v = v * 10 + (*p - '0');
      if (scale) scale *= 10;
      digits++;
    } else if ((*p == '.' || *p == ',') && !scale) {
      const char *q = p + 1;
      while (q < end && cp_is_digit((u8)*q)) q++;
      bool thousands = *p == ',' && q - p == 4 && digits > 0 && digits <= 3;
      if (thousands) continue; /* 1,000 */
      if (q == p + 1) return false;
      scale = 1;
    } else {
      return false;
    }
  }
  if (!digits) return false;
  *out = (negative ? -v : v) / (scale ? scale : 1);
  return true;
}

/* A number: decimal, fraction "a/b", percentage "50%" (compared as 50). */
static bool parse_number(Str s, double *out) {
  const char *p = s.p, *end = s.p + s.n;
  if (end > p && end[-1] == '%') end--;
  while (end > p && end[-1] == ' ') end--;
  const char *slash = p;
  while (slash < end && *slash != '/') slash++;
  if (slash < end) {
    double a, b;
    const char *num_end = slash, *den = slash + 1;
    while (num_end > p && num_end[-1] == ' ') num_end--;
    while (den < end && *den == ' ') den++;
    if (!parse_decimal(p, num_end, &a) || !parse_decimal(den, end, &b) || b == 0) return false;
    *out = a / b;
    return true;
  }
  return parse_decimal(p, end, out);
}

static bool same_answer(Str given, Str expected) {
  Str a = normalise(given), b = normalise(expected);
  double x, y;
  if (parse_number(a, &x) && parse_number(b, &y)) {
    double diff = x > y ? x - y : y - x, size = (x < 0 ? -x : x) > 1 ? (x < 0 ? -x : x) : 1;
    return diff <= 1e-9 * size;
  }
  return a.n == b.n && mem_eq(a.p, b.p, a.n);
}

/* The member of `answers` whose (decoded) key equals `id`. */
static bool answer_for(Str answers, Str id, Str *value) {
  JIter it;
  Str k, v;
  if (!json_iter(answers, '{', &it)) return false;
  while (json_next_member(&it, &k, &v)) {
    Buf key;
    buf_init(&key, k.n);
    if (json_string(k, &key) && key.len == id.n && mem_eq(key.data, id.p, id.n)) {
      *value = v;
      return true;
    }
  }
  return false;
}

static i64 grade(Str args) {
  Str key, answers;
  if (!json_member(args, "key", &key) || !json_member(args, "answers", &answers))
    return answer_error("key and answers are required");
  JIter items;
  if (!json_iter(key, '[', &items)) return answer_error("key must be an array");
  uint64_t score = 0, total = 0, correct_count = 0, unanswered = 0, questions = 0;
  Buf results;
  buf_init(&results, 1024);
  Str item;
  while (json_next_item(&items, &item)) {
    Buf id, expected, given;
    Str raw_id, raw_expected, raw_given, accept;
    if (!json_member(item, "id", &raw_id) || !scalar_text(raw_id, &id)) return answer_error("a key item has no id");
    if (!json_member(item, "answer", &raw_expected) || !scalar_text(raw_expected, &expected))
      return answer_error("a key item has no answer");
    long points = arg_int(item, "points", 1);
    bool answered = answer_for(answers, buf_str(&id), &raw_given) && scalar_text(raw_given, &given);
    bool correct = answered && same_answer(buf_str(&given), buf_str(&expected));
    JIter alternatives;
    Str alternative;
    if (answered && !correct && json_member(item, "accept", &accept) && json_iter(accept, '[', &alternatives)) {
      while (!correct && json_next_item(&alternatives, &alternative)) {
        Buf text;
        correct = scalar_text(alternative, &text) && same_answer(buf_str(&given), buf_str(&text));
      }
    }
    questions++;
    total += (uint64_t)points;
    unanswered += !answered;
    if (correct) {
      score += (uint64_t)points;
      correct_count++;
    }
    buf_puts(&results, questions > 1 ? ",{\"id\":" : "{\"id\":");
    json_put_string(&results, id.data, id.len);
    buf_puts(&results, correct ? ",\"correct\":true" : ",\"correct\":false");
    buf_puts(&results, ",\"points\":");
    buf_put_uint(&results, correct ? (uint64_t)points : 0);
    buf_puts(&results, ",\"out_of\":");
    buf_put_uint(&results, (uint64_t)points);
    buf_puts(&results, ",\"expected\":");
    json_put_string(&results, expected.data, expected.len);
    buf_puts(&results, ",\"given\":");
    if (answered) json_put_string(&results, given.data, given.len);
    else buf_puts(&results, "null");
    buf_putc(&results, '}');
  }
  Buf b;
  answer_begin(&b, results.len + 160);
  buf_puts(&b, "{\"score\":");
  buf_put_uint(&b, score);
  buf_puts(&b, ",\"total\":");
  buf_put_uint(&b, total);
  buf_puts(&b, ",\"percent\":");
  buf_put_tenths(&b, total ? (score * 1000 + total / 2) / total : 0);
  buf_puts(&b, ",\"correct\":");
  buf_put_uint(&b, correct_count);
  buf_puts(&b, ",\"questions\":");
  buf_put_uint(&b, questions);
  buf_puts(&b, ",\"unanswered\":");
  buf_put_uint(&b, unanswered);
  buf_puts(&b, ",\"results\":[");
  buf_put(&b, results.data, results.len);
  buf_puts(&b, "]}");
  return answer_end(&b);
}

static i64 dispatch(Str tool, Str args) {
  if (str_eq(tool, "grade")) return grade(args);
  return answer_error("unknown tool");
}
