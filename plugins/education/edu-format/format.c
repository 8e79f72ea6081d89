/* edu-format: accessibility formatting for students' texts. Deterministic, pure (no imports).
 *
 * Tool `format` {text, stage?, preset?, max_sentence_words?, one_sentence_per_line?, bullets?,
 * syllables?, plain_words?}: short sentences, one idea per line, optional bullets, syllable hints
 * for long words and plain-word swaps, with reading statistics (Flesch-Kincaid grade) before and
 * after. Usable as a guard: at stage "prompt" the text passes unchanged; at "output" (or with no
 * stage) it is formatted with the options, the "dyslexia" preset by default.
 */
#include "../common/edu.h"

enum { MAX_PIECES = 64 };

typedef struct {
  long max_words; /* 0: never split */
  bool per_line, bullets, syllables, plain;
} Options;

typedef struct {
  uint64_t sentences, words, syllables;
} Counts;

/* -- letters and syllables (English heuristics) --------------------------------------------- */

static bool ascii_letter(char c) { return (c | 0x20) >= 'a' && (c | 0x20) <= 'z'; }

static bool vowel_at(Str w, size_t i) {
  char c = (char)(w.p[i] | 0x20);
  if (c == 'a' || c == 'e' || c == 'i' || c == 'o' || c == 'u') return true;
  return c == 'y' && i > 0 && !vowel_at(w, i - 1);
}

static bool ascii_word(Str w) {
  for (size_t i = 0; i < w.n; i++)
    if (!ascii_letter(w.p[i])) return false;
  return w.n > 0;
}

static char lower_at(Str w, size_t i) { return (char)(w.p[i] | 0x20); }

/* The length of a silent ending: "e" (make), "es" (captures), "ed" (jumped), else 0. Not in
 * "table" (a consonant + "le" is a syllable), "boxes" or "wanted". */
static size_t silent_ending(Str w) {
  if (w.n < 4) return 0;
  size_t e = lower_at(w, w.n - 1) == 'e' ? w.n - 1 : w.n - 2;
  if (lower_at(w, e) != 'e' || vowel_at(w, e - 1)) return 0;
  char before = lower_at(w, e - 1), last = lower_at(w, w.n - 1);
  if (e == w.n - 1) return before == 'l' && !vowel_at(w, e - 2) ? 0 : 1;
  if (last == 's' && before != 's' && before != 'x' && before != 'z' && before != 'h') return 2;
  if (last == 'd' && before != 't' && before != 'd') return 2;
  return 0;
}

static bool consonant_le_ending(Str w) {
  return w.n >= 4 && lower_at(w, w.n - 1) == 'e' && lower_at(w, w.n - 2) == 'l' && !vowel_at(w, w.n - 3);
}

/* Vowel groups: start offsets in starts[] (at most `cap`); returns how many. */
static int vowel_groups(Str w, size_t *starts, int cap) {
  int n = 0;
  size_t end = w.n - silent_ending(w);
  for (size_t i = 0; i < end; i++) {
    if (vowel_at(w, i) && (i == 0 || !vowel_at(w, i - 1))) {
      if (n < cap) starts[n] = i;
      n++;
    }
  }
  return n;
}

static uint64_t syllable_count(Str w) {
  size_t starts[1];
  if (!ascii_word(w)) return 1;
  int n = vowel_groups(w, starts, 0);
  return n < 1 ? 1 : (uint64_t)n;
}

static bool pair_is(Str w, size_t i, const char *const *pairs) {
  char a = (char)(w.p[i] | 0x20), b = (char)(w.p[i + 1] | 0x20);
  for (; *pairs; pairs++)
    if ((*pairs)[0] == a && (*pairs)[1] == b) return true;
  return false;
}

static const char *const DIGRAPHS[] = {"th", "ch", "sh", "ph", "wh", "gh", NULL};
static const char *const BLENDS[] = {"bl", "br", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl",
                                     "pr", "sc", "sk", "sl", "sm", "sn", "sp", "st", "sw", "tr",
                                     "tw", "th", "ch", "sh", "ph", "wh", NULL};

/* Where syllable `k` (k >= 1) starts: in the consonants between vowel groups k-1 and k. */
static size_t syllable_start(Str w, const size_t *starts, int k) {
  size_t a = starts[k - 1], b = starts[k];
  if (b == w.n - 1 && consonant_le_ending(w)) return w.n - 3; /* ta-ble */
  while (a < b && vowel_at(w, a)) a++; /* a: the first consonant */
  size_t run = b - a;
  if (run <= 1) return (run == 1 && (w.p[a] | 0x20) == 'x') ? b : a; /* pho-to, ex-am */
  if (run == 2) {
    if (pair_is(w, a, DIGRAPHS)) return a; /* mo-ther */
    return a + 1;                          /* sis-ter, pock-et */
  }
  if (pair_is(w, b - 2, BLENDS)) return b - 2; /* syn-the, hun-dred */
  return b - 1;
}

/* "photosynthesis" -> "pho·to·syn·the·sis" (U+00B7 between syllables). */
static void put_syllables(Buf *out, Str w) {
  size_t starts[32];
  int n = vowel_groups(w, starts, 32);
  if (n > 32) n = 32;
  size_t from = 0;
  for (int k = 1; k < n; k++) {
    size_t at = syllable_start(w, starts, k);
    if (at <= from || at >= w.n) continue;
    buf_put(out, w.p + from, at - from);
    buf_put(out, "\xc2\xb7", 2);
    from = at;
  }
  buf_put(out, w.p + from, w.n - from);
}

static bool wants_hint(Str w) { return w.n >= 8 && ascii_word(w) && syllable_count(w) >= 3; }

/* -- plain words ------------------------------------------------------------------------------ */

typedef struct {
  const char *from, *to;
} Swap;

/* Conservative swaps that keep the meaning; subject words ("calculate", "evaporate") stay. */
static const Swap SWAPS[] = {
    {"in order to", "to"},       {"prior to", "before"},       {"a number of", "some"},
    {"as a result", "so"},       {"in addition", "also"},      {"utilise", "use"},
    {"utilize", "use"},          {"utilises", "uses"},         {"utilizes", "uses"},
    {"approximately", "about"},  {"demonstrate", "show"},      {"demonstrates", "shows"},
    {"commence", "start"},       {"commences", "starts"},      {"sufficient", "enough"},
    {"numerous", "many"},        {"assist", "help"},           {"assists", "helps"},
    {"obtain", "get"},           {"obtains", "gets"},          {"purchase", "buy"},
    {"additional", "more"},      {"however", "but"},           {"therefore", "so"},
    {"consequently", "so"},      {"subsequently", "later"},    {"require", "need"},
    {"requires", "needs"},       {"individuals", "people"},    {"indicate", "show"},
    {"indicates", "shows"},      {"facilitate", "help"},       {"objective", "goal"},
    {"objectives", "goals"},     {"modify", "change"},         {"retain", "keep"},
    {"terminate", "end"},        {"initial", "first"},         {"frequently", "often"},
    {"currently", "now"},        {"regarding", "about"},       {"comprehend", "understand"},
    {"illustrate", "show"},      {"illustrates", "shows"},     {"possess", "have"},
    {"possesses", "has"},        {"attempt", "try"},           {"attempts", "tries"},
};

/* Does the phrase (lower-case words separated by single spaces) start at w? *end gets its end. */
static bool phrase_at(const char *text, const char *end, Str w, const char *phrase, const char **stop) {
  const char *p = phrase;
  for (;;) {
    const char *space = p;
    while (*space && *space != ' ') space++;
    Str part = {p, (size_t)(space - p)};
    if (w.n != part.n) return false;
    for (size_t i = 0; i < w.n; i++) {
      char c = w.p[i];
      if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
      if (c != part.p[i]) return false;
    }
    if (!*space) {
      *stop = w.p + w.n;
      return true;
    }
    const char *q = w.p + w.n;
    if (q >= end || *q != ' ' || !next_word_in(text, q, end, &w) || w.p != q + 1) return false;
    p = space + 1;
  }
}

/* The line with plain words swapped in (first letter's case kept). */
static void swap_words(Str line, Buf *out, uint64_t *swapped) {
  const char *p = line.p, *end = line.p + line.n;
  Str w;
  while (next_word_in(line.p, p, end, &w)) {
    buf_put(out, p, (size_t)(w.p - p));
    const char *stop = NULL;
    const Swap *hit = NULL;
    for (size_t i = 0; i < sizeof SWAPS / sizeof SWAPS[0] && !hit; i++)
      if (phrase_at(line.p, end, w, SWAPS[i].from, &stop)) hit = &SWAPS[i];
    if (!hit) {
      buf_put(out, w.p, w.n);
      p = w.p + w.n;
      continue;
    }
    bool upper = w.p[0] >= 'A' && w.p[0] <= 'Z';
    buf_putc(out, (char)(upper ? hit->to[0] - 32 : hit->to[0]));
    buf_puts(out, hit->to + 1);
    (*swapped)++;
    p = stop;
  }
  buf_put(out, p, (size_t)(end - p));
}

/* -- sentences --------------------------------------------------------------------------------- */

static const char *const ABBREVIATIONS[] = {"e.g", "i.e", "etc", "mr", "mrs", "ms", "dr", "prof", "st",
                                            "vs", "no", "fig", "approx", "ca", "cf", NULL};

static uint64_t count_words(Str s) {
  uint64_t n = 0;
  Str w;
  for (const char *p = s.p; next_word_in(s.p, p, s.p + s.n, &w); p = w.p + w.n) n++;
  return n;
}

/* The length of a list marker ("- ", "* ", "• ", "12. ", "3) ") at the start of a line, or 0. */
static size_t list_marker(Str line) {
  const char *p = line.p, *end = line.p + line.n;
  if (end - p >= 2 && (*p == '-' || *p == '*') && p[1] == ' ') return 2;
  if (end - p >= 4 && mem_eq(p, "\xe2\x80\xa2 ", 4)) return 4;
  const char *q = p;
  while (q < end && q - p < 3 && cp_is_digit((u8)*q)) q++;
  if (q > p && q + 1 < end && (*q == '.' || *q == ')') && q[1] == ' ') return (size_t)(q - p) + 2;
  return 0;
}

/* Does the sentence from `start` end at p (on '.', '!', '?' or '…')? Returns the end after
 * closing quotes and brackets. */
static const char *sentence_end(Str s, const char *start, const char *p) {
  const char *end = s.p + s.n;
  bool ellipsis = end - p >= 3 && mem_eq(p, "\xe2\x80\xa6", 3);
  if (*p != '.' && *p != '!' && *p != '?' && !ellipsis) return NULL;
  const char *q = p + (ellipsis ? 3 : 1);
  while (q < end && (*q == '.' || *q == '!' || *q == '?' || *q == '"' || *q == ')' || *q == '\'')) q++;
  if (q < end && *q != ' ') return NULL;
  if (*p == '.') {
    const char *w = p;
    while (w > s.p && (ascii_letter(w[-1]) || w[-1] == '.')) w--;
    Str before = {w, (size_t)(p - w)};
    if (before.n == 1 && w[0] >= 'A' && w[0] <= 'Z') return NULL; /* an initial: J. K. Rowling */
    if (word_in(before, ABBREVIATIONS)) return NULL;
    const char *d = p;
    while (d > start && cp_is_digit((u8)d[-1])) d--;
    if (d == start && d < p) return NULL; /* "2." opening a sentence is a step number */
  }
  return q;
}

/* Split a line into sentences (spans, without the spaces between them). */
static int split_sentences(Str line, Str *out, int cap) {
  int n = 0;
  const char *start = line.p, *end = line.p + line.n;
  for (const char *p = line.p; p < end; p++) {
    const char *stop = sentence_end(line, start, p);
    if (!stop) continue;
    if (n < cap - 1) out[n++] = (Str){start, (size_t)(stop - start)};
    else break;
    while (stop < end && *stop == ' ') stop++;
    start = p = stop;
    p--;
  }
  if (start < end) out[n++] = (Str){start, (size_t)(end - start)};
  return n;
}

typedef struct {
  Str text;
  bool capitalise, add_period;
} Piece;

static const char *const CONJUNCTIONS[] = {"and", "but", "so", "then", "or", NULL};

/* Where to cut a long sentence: after "; ", or before ", and/but/so/then/or" (not at ": ", which
 * usually follows a label), nearest
 * the middle, with at least three words on each side. *next gets where the second part starts. */
static const char *cut_point(Str s, const char **next) {
  uint64_t total = count_words(s), left = 0, best_gap = (uint64_t)-1;
  const char *best = NULL, *end = s.p + s.n, *prev_end = NULL;
  Str w;
  for (const char *p = s.p; next_word_in(s.p, p, end, &w); p = prev_end = w.p + w.n, left++) {
    if (!prev_end || w.p != prev_end + 2 || prev_end[1] != ' ') continue;
    char c = prev_end[0];
    bool conjunction = word_in(w, CONJUNCTIONS);
    if ((c != ';' && c != ',') || (c == ',' && !conjunction)) continue;
    if (left < 3 || total - left < 3) continue;
    uint64_t gap = left * 2 > total ? left * 2 - total : total - left * 2;
    if (gap < best_gap) {
      best_gap = gap;
      best = prev_end;
      *next = word_is(w, "and") ? w.p + w.n + 1 : w.p; /* "..., and the" -> "... . The" */
    }
  }
  return best;
}

static void split_long(Str s, long max_words, bool capitalise, Piece *pieces, int *n, uint64_t *splits) {
  const char *next = NULL, *cut = NULL;
  if (max_words > 0 && (long)count_words(s) > max_words && *n < MAX_PIECES - 1) cut = cut_point(s, &next);
  if (!cut || next >= s.p + s.n) {
    pieces[(*n)++] = (Piece){s, capitalise, false};
    return;
  }
  (*splits)++;
  Str left = {s.p, (size_t)(cut - s.p)}, right = {next, (size_t)(s.p + s.n - next)};
  split_long(left, max_words, capitalise, pieces, n, splits);
  pieces[*n - 1].add_period = true;
  split_long(right, max_words, true, pieces, n, splits);
}

/* -- writing ------------------------------------------------------------------------------------ */

/* Long words already given a hint in this text (each gets one, the first time). */
typedef struct {
  Str words[1024];
  int n;
} Hinted;

static bool first_time(Hinted *h, Str w) {
  for (int i = 0; i < h->n; i++) {
    if (h->words[i].n != w.n) continue;
    bool same = true;
    for (size_t k = 0; k < w.n && same; k++) same = (h->words[i].p[k] | 0x20) == (w.p[k] | 0x20);
    if (same) return false;
  }
  if (h->n < 1024) h->words[h->n++] = w;
  return true;
}

static void put_piece(Buf *out, const Piece *piece, const Options *o, Hinted *hinted) {
  const char *p = piece->text.p, *end = piece->text.p + piece->text.n;
  bool first = true;
  Str w;
  while (next_word_in(piece->text.p, p, end, &w)) {
    buf_put(out, p, (size_t)(w.p - p));
    if (first && piece->capitalise && w.p[0] >= 'a' && w.p[0] <= 'z') {
      buf_putc(out, (char)(w.p[0] - 32));
      buf_put(out, w.p + 1, w.n - 1);
    } else {
      buf_put(out, w.p, w.n);
    }
    if (o->syllables && wants_hint(w) && first_time(hinted, w)) {
      buf_puts(out, " (");
      put_syllables(out, w);
      buf_putc(out, ')');
    }
    first = false;
    p = w.p + w.n;
  }
  buf_put(out, p, (size_t)(end - p));
  if (piece->add_period) buf_putc(out, '.');
}

/* A line with runs of blanks collapsed to one space and no blanks at either end. */
static Str tidy_line(Str line) {
  Buf b;
  buf_init(&b, line.n + 1);
  bool blank = false;
  for (size_t i = 0; i < line.n; i++) {
    char c = line.p[i];
    if (c == ' ' || c == '\t' || c == '\r' || c == '\f' || c == '\v') {
      blank = b.len > 0;
      continue;
    }
    if (blank) buf_putc(&b, ' ');
    blank = false;
    buf_putc(&b, c);
  }
  return buf_str(&b);
}

static void measure(Str text, Counts *c) {
  Str w, sentences[512];
  const char *p = text.p, *end = text.p + text.n;
  c->sentences = c->words = c->syllables = 0;
  while (p < end) {
    const char *nl = p;
    while (nl < end && *nl != '\n') nl++;
    Str line = {p, (size_t)(nl - p)};
    int n = count_words(line) ? split_sentences(line, sentences, 512) : 0;
    for (int i = 0; i < n; i++) c->sentences += count_words(sentences[i]) > 0;
    for (const char *q = line.p; next_word_in(line.p, q, nl, &w); q = w.p + w.n) {
      c->words++;
      c->syllables += syllable_count(w);
    }
    p = nl + 1;
  }
}

/* Flesch-Kincaid grade level, in tenths, floored at 0. */
static uint64_t grade_tenths(const Counts *c) {
  if (c->words == 0 || c->sentences == 0) return 0;
  /* 0.39 * words / sentences + 11.8 * syllables / words - 15.59 */
  double g = 0.39 * (double)c->words / (double)c->sentences + 11.8 * (double)c->syllables / (double)c->words -
             15.59;
  return g <= 0 ? 0 : (uint64_t)(g * 10 + 0.5);
}

static void format_text(Str text, const Options *o, Buf *out, uint64_t *splits, uint64_t *swapped) {
  const char *p = text.p, *end = text.p + text.n;
  bool pending_blank = false;
  Str sentences[256];
  Piece pieces[MAX_PIECES];
  Hinted *hinted = edu_alloc(sizeof(Hinted));
  hinted->n = 0;
  while (p < end) {
    const char *nl = p;
    while (nl < end && *nl != '\n') nl++;
    Str line = tidy_line((Str){p, (size_t)(nl - p)});
    p = nl + 1;
    if (line.n == 0) {
      pending_blank = out->len > 0;
      continue;
    }
    if (out->len > 0) buf_puts(out, pending_blank ? "\n\n" : "\n");
    pending_blank = false;
    size_t marker = list_marker(line);
    Str body = {line.p + marker, line.n - marker};
    if (o->plain) {
      Buf swapped_body;
      buf_init(&swapped_body, body.n + 16);
      swap_words(body, &swapped_body, swapped);
      body = buf_str(&swapped_body);
    }
    int ns = split_sentences(body, sentences, 256);
    bool line_start = true;
    for (int i = 0; i < ns; i++) {
      int np = 0;
      split_long(sentences[i], o->max_words, false, pieces, &np, splits);
      for (int k = 0; k < np; k++) {
        if (!line_start) buf_puts(out, o->per_line ? "\n" : " ");
        if (line_start && marker) buf_put(out, line.p, marker);
        else if ((line_start || o->per_line) && o->bullets) buf_puts(out, "\xe2\x80\xa2 ");
        put_piece(out, &pieces[k], o, hinted);
        line_start = false;
      }
    }
  }
}

static Options preset(Str name) {
  if (str_eq(name, "easy-read")) return (Options){10, true, true, false, true};
  if (str_eq(name, "none")) return (Options){0, false, false, false, false};
  return (Options){15, true, false, false, false}; /* dyslexia */
}

static i64 format(Str args) {
  Buf text, stage, preset_name;
  if (!arg_string(args, "text", &text)) return answer_error("text must be a string");
  if (arg_string(args, "stage", &stage) && str_eq(buf_str(&stage), "prompt")) {
    Buf b;
    answer_begin(&b, text.len + text.len / 8);
    buf_puts(&b, "{\"text\":");
    json_put_string(&b, text.data, text.len);
    buf_putc(&b, '}');
    return answer_end(&b);
  }
  bool named = arg_string(args, "preset", &preset_name);
  Options o = preset(named ? buf_str(&preset_name) : str_of("dyslexia"));
  o.max_words = arg_int(args, "max_sentence_words", o.max_words);
  o.per_line = arg_bool(args, "one_sentence_per_line", o.per_line);
  o.bullets = arg_bool(args, "bullets", o.bullets);
  o.syllables = arg_bool(args, "syllables", o.syllables);
  o.plain = arg_bool(args, "plain_words", o.plain);

  uint64_t splits = 0, swapped = 0;
  Buf out;
  buf_init(&out, text.len + text.len / 4 + 64);
  format_text(buf_str(&text), &o, &out, &splits, &swapped);
  Counts before, after;
  measure(buf_str(&text), &before);
  measure(buf_str(&out), &after);

  Buf b;
  answer_begin(&b, out.len + out.len / 8 + 256);
  buf_puts(&b, "{\"text\":");
  json_put_string(&b, out.data, out.len);
  buf_puts(&b, ",\"stats\":{\"words\":");
  buf_put_uint(&b, after.words);
  buf_puts(&b, ",\"sentences_before\":");
  buf_put_uint(&b, before.sentences);
  buf_puts(&b, ",\"sentences_after\":");
  buf_put_uint(&b, after.sentences);
  buf_puts(&b, ",\"sentences_split\":");
  buf_put_uint(&b, splits);
  buf_puts(&b, ",\"words_swapped\":");
  buf_put_uint(&b, swapped);
  buf_puts(&b, ",\"grade_before\":");
  buf_put_tenths(&b, grade_tenths(&before));
  buf_puts(&b, ",\"grade_after\":");
  buf_put_tenths(&b, grade_tenths(&after));
  buf_puts(&b, "}}");
  return answer_end(&b);
}

static i64 dispatch(Str tool, Str args) {
  if (str_eq(tool, "format")) return format(args);
  return answer_error("unknown tool");
}
