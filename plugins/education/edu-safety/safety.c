/* edu-safety: the safety reviewer every student-facing text passes through (a Convergio guard).
 *
 * Tool `review` {text, stage}: redacts e-mail addresses, phone numbers and students' names, and
 * at stage "output" blocks text that is not age-appropriate. Deterministic, pure (no imports).
 *
 * Names cannot be known for sure from text alone; they are found three ways (README: limits):
 *   1. marked by the graph author: [[Maria Rossi]] (any case);
 *   2. capitalised words after a cue: "my name is", "Student:", "the pupil", "Dear", "Mrs", ...;
 *   3. every later occurrence of a word found by 1 (any case) or 2 (same case) in the same text.
 */
#include "../common/edu.h"

enum { FREE = 0, EMAIL = 1, PHONE = 2, NAME = 3 };
enum { MAX_LEARNED = 512, MAX_NAME_WORDS = 4, MAX_LIST = 8 };

typedef struct {
  const char *text, *end;
  size_t n;
  u8 *mask;
  Str learned[MAX_LEARNED];
  bool learned_any_case[MAX_LEARNED];
  int nlearned;
} Scan;

static size_t at_of(const Scan *s, const char *p) { return (size_t)(p - s->text); }

/* Mark [a, b) as `kind` unless part of it is already marked. */
static bool mark(Scan *s, const char *a, const char *b, u8 kind) {
  for (const char *p = a; p < b; p++)
    if (s->mask[at_of(s, p)] != FREE) return false;
  __builtin_memset(s->mask + at_of(s, a), kind, (size_t)(b - a));
  return true;
}

static bool is_marked(const Scan *s, const char *a, const char *b) {
  for (const char *p = a; p < b; p++)
    if (s->mask[at_of(s, p)] != FREE) return true;
  return false;
}

/* The next word at or after p, or false at the end. */
static bool next_word(const Scan *s, const char *p, Str *w) { return next_word_in(s->text, p, s->end, w); }

/* -- words that are never taken for names ------------------------------------------------- */

static const char *const STOP[] = {
    "i", "a", "an", "the", "this", "that", "these", "those", "it", "its", "we", "you", "he", "she",
    "they", "my", "your", "our", "his", "her", "their", "is", "am", "are", "was", "were", "be",
    "not", "no", "yes", "so", "very", "here", "there", "now", "just", "also", "and", "or", "but",
    "in", "at", "on", "of", "to", "for", "from", "with", "by", "about", "all", "every", "everyone",
    "everybody", "some", "any", "what", "who", "how", "why", "when", "where", "which", "can",
    "could", "will", "would", "should", "do", "did", "does", "have", "has", "had", "if", "then",
    "student", "students", "pupil", "pupils", "learner", "learners", "class", "classes", "teacher",
    "teachers", "parent", "parents", "family", "families", "friend", "friends", "sir", "madam",
    "colleague", "colleagues", "team", "staff", "school", "grade", "year", "form", "group", "level",
    "age", "id", "number", "name", "names", "world", "reader", "readers", "child", "children",
    "happy", "sorry", "fine", "good", "great", "ok", "okay", "ready", "done", "back", "going",
    "learning", "stuck", "confused", "new", "glad", "excited", "interested", "trying", "working",
    "looking", "writing", "asking", "studying", "still", "really", "having", "feeling", "finished",
    "unsure", "nervous", "worried", "thanks", "thank", "please", "sure", "late", "absent", "ill",
    "monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday", "january",
    "february", "march", "april", "may", "june", "july", "august", "september", "october",
    "november", "december", "english", "french", "spanish", "italian", "german", "chinese",
    "japanese", "korean", "indian", "american", "british", "canadian", "australian", "dutch",
    "polish", "portuguese", "greek", "turkish", "arabic", "russian", "ukrainian", "brazilian",
    "mexican", "african", "european", "asian", "irish", "scottish", "welsh", "swedish",
    "norwegian", "danish", "finnish", "swiss", "austrian", "belgian", "christian", "muslim",
    "jewish", "hindu", "buddhist", "catholic", "sikh", "math", "maths", "mathematics", "science",
    "history", "geography", "physics", "chemistry", "biology", "art", "music", "redacted",
    "council", "union", "body", "services", "support", "centre", "center", "handbook", "portal",
    "card", "president", "representative", "representatives", "leader", "leaders", "mr", "mrs",
    "ms", "miss", "mx", "dr", "prof", "dear", "hi", "hello", "hey", "regards", "sincerely",
    "cheers", "i'm", "i\xe2\x80\x99m", "i'd", "i'll", "i've", "it's", "let's", "we're", "you're",
    "that's", "there's", "here's", "what's", NULL};

static bool is_capitalised(Str w) {
  int len;
  return cp_is_upper(utf8_at(w.p, w.p + w.n, &len));
}

static size_t char_count(Str w) {
  size_t n = 0;
  for (size_t i = 0; i < w.n; i++) n += ((u8)w.p[i] & 0xC0) != 0x80;
  return n;
}

/* A word without a trailing possessive 's / ’s / '. */
static Str stem_possessive(Str w) {
  if (w.n > 2 && w.p[w.n - 2] == '\'' && (w.p[w.n - 1] | 0x20) == 's') return (Str){w.p, w.n - 2};
  if (w.n > 4 && (u8)w.p[w.n - 4] == 0xE2 && (u8)w.p[w.n - 3] == 0x80 && (u8)w.p[w.n - 2] == 0x99 &&
      (w.p[w.n - 1] | 0x20) == 's')
    return (Str){w.p, w.n - 4};
  return w;
}

static bool name_like(Str w) {
  Str core = stem_possessive(w);
  return is_capitalised(core) && char_count(core) >= 2 && !word_in(core, STOP) &&
         !cp_is_digit((u8)core.p[core.n - 1]);
}

static void learn(Scan *s, Str w, bool any_case) {
  w = stem_possessive(w);
  if (char_count(w) < 2 || word_in(w, STOP) || s->nlearned >= MAX_LEARNED) return;
  s->learned[s->nlearned] = w;
  s->learned_any_case[s->nlearned++] = any_case;
}

/* -- 1. names the graph author marked: [[Maria Rossi]] ---------------------------------------- */

static void find_marked_names(Scan *s) {
  for (const char *p = s->text; p + 4 <= s->end; p++) {
    if (p[0] != '[' || p[1] != '[') continue;
    const char *q = p + 2;
    while (q + 1 < s->end && q - p < 160 && *q != '[' && *q != ']' && *q != '\n') q++;
    if (q + 1 >= s->end || q[0] != ']' || q[1] != ']' || q == p + 2) continue;
    if (!mark(s, p, q + 2, NAME)) continue;
    Str w;
    for (const char *r = p + 2; next_word(s, r, &w) && w.p < q; r = w.p + w.n) learn(s, w, true);
    p = q + 1;
  }
}

/* -- e-mail addresses: local@domain.tld, also "local [at] domain [dot] tld" ------------------- */

static bool local_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || cp_is_digit((u8)c) || c == '.' ||
         c == '_' || c == '%' || c == '+' || c == '-' || ((u8)c & 0x80);
}

static bool domain_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || cp_is_digit((u8)c) || c == '-' ||
         ((u8)c & 0x80);
}

/* The length of a spelled-out separator at p: "[at]", " (at) ", "{dot}" ... or 0. */
static size_t spelled(const char *p, const char *end, const char *word) {
  const char *q = p;
  if (q < end && *q == ' ') q++;
  if (q >= end || (*q != '[' && *q != '(' && *q != '{')) return 0;
  char close = *q == '[' ? ']' : *q == '(' ? ')' : '}';
  q++;
  size_t n = cstr_len(word);
  if (end - q < (long)n + 1 || !word_is((Str){q, n}, word) || q[n] != close) return 0;
  q += n + 1;
  if (q < end && *q == ' ') q++;
  return (size_t)(q - p);
}

static void find_emails(Scan *s, int *count) {
  for (const char *p = s->text; p < s->end; p++) {
    size_t at = *p == '@' ? 1 : spelled(p, s->end, "at");
    if (!at) continue;
    const char *a = p;
    while (a > s->text && local_char(a[-1])) a--;
    while (a < p && *a == '.') a++;
    if (a == p) continue;
    const char *q = p + at, *end = NULL, *tld = NULL;
    int labels = 0;
    for (;;) {
      const char *label = q;
      while (q < s->end && domain_char(*q)) q++;
      if (q == label) break;
      labels++;
      end = q;
      tld = label;
      size_t dot = 0;
      if (q + 1 < s->end && *q == '.' && domain_char(q[1])) dot = 1;
      else dot = spelled(q, s->end, "dot");
      if (!dot) break;
      q += dot;
    }
    if (labels < 2 || end - tld < 2) continue;
    bool alpha = true;
    for (const char *t = tld; t < end; t++) alpha = alpha && ((*t | 0x20) >= 'a' && (*t | 0x20) <= 'z');
    if (alpha && mark(s, a, end, EMAIL)) {
      (*count)++;
      p = end - 1;
    }
  }
}

/* -- phone numbers ------------------------------------------------------------------------- */

static const char *const PHONE_CUES[] = {
    "phone", "telephone", "tel", "mobile", "cell", "cellphone", "call", "ring", "whatsapp", "sms",
    "text", "number", "contact", "fax", "telefono", "cellulare", "téléphone", "telefon", "móvil",
    NULL};

/* Is one of the three words before p a phone cue ("call me on", "phone:", "Tel.")? */
static bool phone_cue_before(const Scan *s, const char *p) {
  const char *q = p;
  for (int words = 0; words < 3 && q > s->text; words++) {
    q--;
    while (q > s->text && !word_starts(s->text, q, s->end)) q--;
    if (!word_starts(s->text, q, s->end)) return false;
    if (word_in((Str){q, (size_t)(word_end(q, s->end) - q)}, PHONE_CUES)) return true;
  }
  return false;
}

typedef struct {
  int groups, digits, lens[16];
  bool plus, paren, space, dash, dot, lead_zero;
} Phone;

/* Parse digit groups joined by up to three of " -.()" from p; returns the end of the last group. */
static const char *parse_phone(const Scan *s, const char *p, Phone *ph) {
  __builtin_memset(ph, 0, sizeof *ph);
  if (*p == '+') {
    ph->plus = true;
    p++;
  }
  if (p < s->end && *p == '(') {
    ph->paren = true;
    p++;
  }
  const char *end = p;
  while (p < s->end && cp_is_digit((u8)*p)) {
    const char *g = p;
    while (p < s->end && cp_is_digit((u8)*p)) p++;
    if (ph->groups == 0) ph->lead_zero = *g == '0';
    if (ph->groups < 16) ph->lens[ph->groups] = (int)(p - g);
    ph->groups++;
    ph->digits += (int)(p - g);
    end = p;
    const char *q = p;
    bool space = false, dash = false, dot = false, paren = false;
    while (q < s->end && q - p < 3 && (*q == ' ' || *q == '-' || *q == '.' || *q == '(' || *q == ')')) {
      space |= *q == ' ';
      dash |= *q == '-';
      dot |= *q == '.';
      paren |= *q == '(' || *q == ')';
      q++;
    }
    bool sentence_end = dot && space; /* "... 60. 1492" */
    if (q == p || q >= s->end || !cp_is_digit((u8)*q) || sentence_end) break;
    ph->space |= space;
    ph->dash |= dash;
    ph->dot |= dot;
    ph->paren |= paren;
    p = q;
  }
  return end;
}

static bool looks_like_phone(const Phone *ph, bool cue) {
  int g = ph->groups, first = ph->lens[0];
  if (ph->digits > 15 || ph->digits < (cue ? 6 : 7) || g > 16) return false;
  bool only_dash = ph->dash && !ph->space && !ph->dot && !ph->paren;
  bool only_dot = ph->dot && !ph->space && !ph->dash && !ph->paren;
  if (g == 3 && (ph->dash || ph->dot) && !ph->space && !ph->plus &&
      ((first == 4 && ph->lens[1] == 2 && ph->lens[2] == 2) ||
       (first == 2 && ph->lens[1] == 2 && ph->lens[2] == 4)))
    return false; /* a date: 2026-11-25, 25.11.2026 */
  if (only_dot && g == 4 && first <= 3 && ph->lens[1] <= 3 && ph->lens[2] <= 3 && ph->lens[3] <= 3)
    return false; /* an IPv4 address */
  if (ph->plus || ph->paren || cue) return true;
  if (g == 1) return ph->lead_zero && ph->digits >= 9 && ph->digits <= 12;
  bool after_first_min2 = true, after_first_min3 = true, thousands = first <= 3;
  for (int i = 1; i < g && i < 16; i++) {
    after_first_min2 = after_first_min2 && ph->lens[i] >= 2;
    after_first_min3 = after_first_min3 && ph->lens[i] >= 3;
    thousands = thousands && ph->lens[i] == 3;
  }
  if (!after_first_min2) return false;
  if (ph->lead_zero) return true;
  if (thousands && !only_dash) return false; /* 10 000 000, 1.000.000 */
  if (g == 2) return first == 3 && ph->lens[1] == 4; /* 555-1234, not 1492 1500 nor 2019-2020 */
  return after_first_min3;
}

static void find_phones(Scan *s, int *count) {
  int len;
  for (const char *p = s->text; p < s->end; p++) {
    bool starts = cp_is_digit((u8)*p) ||
                  ((*p == '+' || *p == '(') && p + 1 < s->end && cp_is_digit((u8)p[1]));
    if (!starts || s->mask[at_of(s, p)] != FREE) continue;
    if (p > s->text) {
      const char *b = p - 1;
      while (b > s->text && ((u8)*b & 0xC0) == 0x80) b--;
      if (word_char_at(b, s->end, &len) || *b == '+' || *b == '/' || *b == '_') {
        continue; /* inside a word, a number or a code */
      }
      if ((*b == '.' || *b == ',') && b > s->text && cp_is_digit((u8)b[-1])) continue;
    }
    Phone ph;
    const char *end = parse_phone(s, p, &ph);
    bool glued = end < s->end && word_char_at(end, s->end, &len);
    bool longer = end + 1 < s->end && (*end == '.' || *end == ',' || *end == '/') && cp_is_digit((u8)end[1]);
    if (!glued && !longer && looks_like_phone(&ph, phone_cue_before(s, p)) && mark(s, p, end, PHONE)) {
      (*count)++;
      p = end - 1;
    } else {
      while (p + 1 < s->end && (cp_is_digit((u8)p[1]) || p[1] == '+' || p[1] == '(')) p++;
    }
  }
}

/* -- 2. names after cue words -------------------------------------------------------------- */

enum { CUE_CAPITAL = 1, CUE_COLON = 2, CUE_TITLE = 4, CUE_NEWLINE = 8 };

typedef struct {
  const char *words[3];
  u8 flags;
} Cue;

/* Longest first: "my name is" before "name". */
static const Cue CUES[] = {
    {{"my", "name", "is"}, 0},
    {{"his", "name", "is"}, 0},
    {{"her", "name", "is"}, 0},
    {{"their", "name", "is"}, 0},
    {{"student", "name"}, 0},
    {{"students", "names"}, 0},
    {{"call", "me"}, 0},
    {{"i", "am"}, 0},
    {{"i'm"}, 0},
    {{"i\xe2\x80\x99m"}, 0},
    {{"name"}, CUE_COLON},
    {{"names"}, CUE_COLON},
    {{"from"}, CUE_COLON | CUE_CAPITAL},
    {{"to"}, CUE_COLON | CUE_CAPITAL},
    {{"signed"}, CUE_COLON},
    {{"student"}, 0},
    {{"students"}, 0},
    {{"pupil"}, 0},
    {{"pupils"}, 0},
    {{"learner"}, 0},
    {{"learners"}, 0},
    {{"classmate"}, 0},
    {{"classmates"}, 0},
    {{"child"}, 0},
    {{"children"}, 0},
    {{"son"}, 0},
    {{"daughter"}, 0},
    {{"friend"}, 0},
    {{"brother"}, 0},
    {{"sister"}, 0},
    {{"mum"}, 0},
    {{"mom"}, 0},
    {{"mother"}, 0},
    {{"dad"}, 0},
    {{"father"}, 0},
    {{"parent"}, 0},
    {{"guardian"}, 0},
    {{"teacher"}, 0},
    {{"dear"}, CUE_CAPITAL},
    {{"hi"}, 0},
    {{"hello"}, 0},
    {{"hey"}, 0},
    {{"regards"}, CUE_NEWLINE},
    {{"sincerely"}, CUE_NEWLINE},
    {{"thanks"}, CUE_NEWLINE},
    {{"cheers"}, CUE_NEWLINE},
    {{"mr"}, CUE_CAPITAL | CUE_TITLE},
    {{"mrs"}, CUE_CAPITAL | CUE_TITLE},
    {{"ms"}, CUE_CAPITAL | CUE_TITLE},
    {{"miss"}, CUE_CAPITAL | CUE_TITLE},
    {{"mx"}, CUE_CAPITAL | CUE_TITLE},
    {{"dr"}, CUE_CAPITAL | CUE_TITLE},
    {{"prof"}, CUE_CAPITAL | CUE_TITLE},
};

static const char *const PARTICLES[] = {"de", "da", "di", "del", "della", "van", "von", "der", "den",
                                        "la", "le", "du", "dos", "das", "bin", "al", "el", "ben", NULL};

/* Words of the cue starting at w; *after gets the end of its last word. */
static bool cue_at(const Scan *s, Str w, const Cue *cue, const char **after) {
  if ((cue->flags & CUE_CAPITAL) && !is_capitalised(w)) return false;
  for (int i = 0; i < 3 && cue->words[i]; i++) {
    if (i > 0) {
      const char *p = w.p + w.n;
      if (p >= s->end || *p != ' ' || !next_word(s, p, &w) || w.p != p + 1) return false;
    }
    if (!word_is(w, cue->words[i])) return false;
  }
  *after = w.p + w.n;
  return true;
}

/* Skip what may stand between a cue and a name: spaces, one of ":,-", a title's dot, a newline. */
static const char *cue_gap(const Scan *s, const char *p, u8 flags) {
  bool colon = false;
  int newlines = 0;
  if ((flags & CUE_TITLE) && p < s->end && *p == '.') p++;
  while (p < s->end && p - s->text < (long)s->n) {
    char c = *p;
    if (c == ':' || c == ',' || c == '-') {
      colon |= c == ':';
      p++;
    } else if (c == ' ' || c == '\t' || c == '\r') {
      p++;
    } else if (c == '\n' && newlines++ < 1) {
      p++;
    } else {
      break;
    }
  }
  if ((flags & CUE_COLON) && !colon) return NULL;
  if ((flags & CUE_NEWLINE) && newlines == 0) return NULL;
  return p;
}

/* The name of up to four words starting at p (capitalised words, inner particles, initials). */
static const char *take_name(Scan *s, const char *p) {
  Str w;
  if (!next_word(s, p, &w) || w.p != p || !name_like(w) || is_marked(s, w.p, w.p + w.n)) return NULL;
  const char *end = w.p + w.n;
  Str words[MAX_NAME_WORDS + 2];
  int n = 0;
  words[n++] = w;
  while (n < MAX_NAME_WORDS) {
    if (end + 1 >= s->end || *end != ' ' || !next_word(s, end, &w) || w.p != end + 1) break;
    if (word_in(w, PARTICLES)) { /* "de la Cruz", "van der Berg": particles then a name */
      Str next = w;
      for (int k = 0; k < 3 && word_in(next, PARTICLES); k++) {
        const char *q = next.p + next.n;
        if (q + 1 >= s->end || *q != ' ' || !next_word(s, q, &next) || next.p != q + 1) break;
      }
      if (!name_like(next)) break;
      end = next.p + next.n;
      words[n++] = next;
      continue;
    }
    bool initial = char_count(w) == 1 && is_capitalised(w) && w.p + w.n < s->end && w.p[w.n] == '.';
    if (!initial && !name_like(w)) break;
    end = w.p + w.n;
    if (!initial) words[n++] = w;
  }
  if (!mark(s, p, end, NAME)) return NULL;
  for (int i = 0; i < n; i++) learn(s, words[i], false);
  return end;
}

/* After a name: ", " / " and " / " & " / ", and " before another name. */
static const char *list_gap(const Scan *s, const char *p) {
  const char *q = p;
  if (q < s->end && *q == ',') q++;
  while (q < s->end && *q == ' ') q++;
  Str w;
  if (q < s->end && *q == '&') {
    q++;
  } else if (next_word(s, q, &w) && w.p == q && (word_is(w, "and") || word_is(w, "e") || word_is(w, "y"))) {
    q = w.p + w.n;
  } else if (q == p || p >= s->end || *p != ',') {
    return NULL;
  }
  while (q < s->end && *q == ' ') q++;
  return q;
}

static void find_cued_names(Scan *s) {
  Str w;
  for (const char *p = s->text; next_word(s, p, &w); p = w.p + w.n) {
    if (s->mask[at_of(s, w.p)] != FREE) continue;
    for (size_t c = 0; c < sizeof CUES / sizeof CUES[0]; c++) {
      const char *after;
      if (!cue_at(s, w, &CUES[c], &after)) continue;
      const char *q = cue_gap(s, after, CUES[c].flags);
      const char *end = q ? take_name(s, q) : NULL;
      for (int more = 1; end && more < MAX_LIST; more++) {
        const char *next = list_gap(s, end);
        const char *taken = next ? take_name(s, next) : NULL;
        if (!taken) break;
        end = taken;
      }
      if (end) w = (Str){w.p, (size_t)(end - w.p)};
      break;
    }
  }
}

/* -- 3. every later occurrence of a learned name -------------------------------------------- */

static bool same_word(Str a, Str b, bool any_case) {
  if (a.n != b.n) return false;
  if (!any_case) return mem_eq(a.p, b.p, a.n);
  const char *p = a.p, *q = b.p, *end = a.p + a.n;
  while (p < end) {
    int la, lb;
    u32 x = utf8_at(p, end, &la), y = utf8_at(q, b.p + b.n, &lb);
    if (cp_lower(x) != cp_lower(y)) return false;
    p += la;
    q += lb;
  }
  return true;
}

static void find_learned_names(Scan *s) {
  Str w;
  if (s->nlearned == 0) return;
  for (const char *p = s->text; next_word(s, p, &w); p = w.p + w.n) {
    Str core = stem_possessive(w);
    if (is_marked(s, core.p, core.p + core.n)) continue;
    for (int i = 0; i < s->nlearned; i++) {
      if (same_word(core, s->learned[i], s->learned_any_case[i])) {
        mark(s, core.p, core.p + core.n, NAME);
        break;
      }
    }
  }
}

/* -- age-appropriateness (stage "output") ---------------------------------------------------- */

typedef struct {
  const char *word;
  bool stem; /* also matches words that start with it */
  u8 category;
} Flagged;

static const char *const CATEGORIES[] = {"explicit language", "sexual content"};

static const Flagged FLAGGED[] = {
    {"fuck", true, 0},     {"motherfuck", true, 0}, {"shit", true, 0},      {"bullshit", true, 0},
    {"bitch", true, 0},    {"bastard", true, 0},    {"asshole", true, 0},   {"arsehole", true, 0},
    {"dickhead", true, 0}, {"cunt", true, 0},       {"wanker", true, 0},    {"bollocks", false, 0},
    {"twat", true, 0},     {"slut", true, 0},       {"whore", true, 0},     {"piss", true, 0},
    {"porn", true, 1},     {"xxx", false, 1},       {"nsfw", false, 1},     {"nude", false, 1},
    {"nudes", false, 1},   {"nudity", false, 1},    {"hentai", false, 1},   {"blowjob", true, 1},
    {"handjob", true, 1},  {"orgasm", true, 1},     {"erotic", true, 1},    {"sexy", false, 1},
    {"dildo", true, 1},    {"masturbat", true, 1},  {"onlyfans", false, 1},
};

static int flagged_word(Str w) {
  for (size_t i = 0; i < sizeof FLAGGED / sizeof FLAGGED[0]; i++) {
    const Flagged *f = &FLAGGED[i];
    size_t n = cstr_len(f->word);
    if (w.n < n || (!f->stem && w.n != n)) continue;
    if (word_is((Str){w.p, n}, f->word)) return (int)i;
  }
  return -1;
}

/* Mask flagged words in place ("f***"); returns how many, and the first one's index. */
static int mask_flagged(Buf *text, int *first) {
  Str w;
  int count = 0;
  Scan s = {.text = text->data, .end = text->data + text->len, .n = text->len};
  *first = -1;
  for (const char *p = s.text; next_word(&s, p, &w); p = w.p + w.n) {
    int f = flagged_word(w);
    if (f < 0) continue;
    if (*first < 0) *first = f;
    count++;
    for (size_t i = 1; i < w.n; i++) ((char *)w.p)[i] = '*';
  }
  return count;
}

/* -- the tool -------------------------------------------------------------------------------- */

static const char *const MARKERS[] = {"", "[EMAIL]", "[PHONE]", "[NAME]"};

/* The text with each marked run replaced by its marker (a name's words joined by spaces: one). */
static void redacted(const Scan *s, Buf *out) {
  size_t i = 0;
  while (i < s->n) {
    u8 kind = s->mask[i];
    if (kind == FREE) {
      buf_putc(out, s->text[i++]);
      continue;
    }
    while (i < s->n && s->mask[i] == kind) i++;
    if (kind == NAME) {
      for (size_t j = i; j < s->n && (s->text[j] == ' ' || s->mask[j] == NAME); j++)
        if (s->mask[j] == NAME) i = j + 1;
    }
    buf_puts(out, MARKERS[kind]);
  }
}

static int count_runs(const Buf *text, const char *marker) {
  int n = 0;
  size_t m = cstr_len(marker);
  for (size_t i = 0; i + m <= text->len; i++)
    if (mem_eq(text->data + i, marker, m)) n++;
  return n;
}

static i64 review(Str args) {
  Buf text, stage;
  if (!arg_string(args, "text", &text)) return answer_error("text must be a string");
  bool output = arg_string(args, "stage", &stage) && str_eq(buf_str(&stage), "output");
  int emails = 0, phones = 0, before_names;

  Scan *s = edu_alloc(sizeof(Scan));
  __builtin_memset(s, 0, sizeof *s);
  s->text = text.data;
  s->n = text.len;
  s->end = text.data + text.len;
  s->mask = edu_alloc(text.len + 1);
  __builtin_memset(s->mask, FREE, text.len + 1);
  before_names = count_runs(&text, MARKERS[NAME]);
  find_marked_names(s);
  find_emails(s, &emails);
  find_phones(s, &phones);
  find_cued_names(s);
  find_learned_names(s);

  Buf clean;
  buf_init(&clean, text.len + 16);
  redacted(s, &clean);
  int first = -1, flagged = output ? mask_flagged(&clean, &first) : 0;

  Buf b;
  answer_begin(&b, clean.len + clean.len / 8 + 256);
  buf_puts(&b, "{\"text\":");
  json_put_string(&b, clean.data, clean.len);
  json_key(&b, "blocked", false);
  buf_puts(&b, flagged ? "true" : "false");
  if (flagged) {
    Buf reason;
    buf_init(&reason, 160);
    const Flagged *f = &FLAGGED[first];
    buf_puts(&reason, "not age-appropriate for students: ");
    buf_puts(&reason, CATEGORIES[f->category]);
    buf_puts(&reason, " (\"");
    buf_putc(&reason, f->word[0]);
    for (size_t i = 1; i < cstr_len(f->word); i++) buf_putc(&reason, '*');
    buf_puts(&reason, "\"");
    if (flagged > 1) {
      buf_puts(&reason, " and ");
      buf_put_uint(&reason, (uint64_t)(flagged - 1));
      buf_puts(&reason, flagged > 2 ? " more flagged words" : " more flagged word");
    }
    buf_puts(&reason, ")");
    json_key(&b, "reason", false);
    json_put_string(&b, reason.data, reason.len);
  }
  json_key(&b, "redacted", false);
  buf_puts(&b, "{\"emails\":");
  buf_put_uint(&b, (uint64_t)emails);
  buf_puts(&b, ",\"phones\":");
  buf_put_uint(&b, (uint64_t)phones);
  buf_puts(&b, ",\"names\":");
  int names = count_runs(&clean, MARKERS[NAME]) - before_names;
  buf_put_uint(&b, (uint64_t)(names < 0 ? 0 : names));
  buf_puts(&b, "}}");
  return answer_end(&b);
}

static i64 dispatch(Str tool, Str args) {
  if (str_eq(tool, "review")) return review(args);
  return answer_error("unknown tool");
}
