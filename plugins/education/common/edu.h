/* edu.h: the small runtime the education plugins share. No libc: wasm32-freestanding.
 *
 * ABI 1 (docs/adr/0005-plugin-abi.md): the module exports `memory`, `alloc(len) -> ptr` and
 * `call(ptr, len) -> ptr << 32 | len`. The host writes `{"tool":..., "arguments":{...}}` (arguments
 * already checked against the tool's input_schema) and reads back `{"result": ...}` or
 * `{"error": "..."}`. A fresh instance serves each call, so memory is a bump allocator that
 * never frees, and nothing survives between calls.
 *
 * Included by exactly one .c file per plugin (everything here is static), which defines
 * `static i64 dispatch(Str tool, Str args)`.
 */
#ifndef EDU_H
#define EDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Not every plugin uses every helper. */
#pragma clang diagnostic ignored "-Wunused-function"

typedef int64_t i64;
typedef uint32_t u32;
typedef uint8_t u8;

/* A byte range of UTF-8 text that this module does not own. */
typedef struct {
  const char *p;
  size_t n;
} Str;

/* A growable output buffer. */
typedef struct {
  char *data;
  size_t len, cap;
} Buf;

/* -- memory ------------------------------------------------------------------------------- */

extern u8 __heap_base;
static size_t heap_top;

static void *edu_alloc(size_t n) {
  if (heap_top == 0) heap_top = (size_t)&__heap_base;
  size_t p = (heap_top + 7u) & ~(size_t)7u;
  if (n > 0x7fffffffu || p + n < p) __builtin_trap();
  size_t end = p + n;
  size_t have = __builtin_wasm_memory_size(0) * 65536u;
  if (end > have) {
    size_t pages = (end - have + 65535u) / 65536u;
    if (__builtin_wasm_memory_grow(0, pages) == (size_t)-1) __builtin_trap(); /* at the memory cap */
  }
  heap_top = end;
  return (void *)p;
}

__attribute__((export_name("alloc"))) void *alloc(int32_t n) { return edu_alloc(n < 0 ? 0 : (size_t)n); }

static void buf_init(Buf *b, size_t cap) {
  b->cap = cap < 64 ? 64 : cap;
  b->data = edu_alloc(b->cap);
  b->len = 0;
}

static void buf_reserve(Buf *b, size_t extra) {
  if (b->len + extra <= b->cap) return;
  size_t cap = b->cap * 2;
  if (cap < b->len + extra) cap = b->len + extra;
  char *data = edu_alloc(cap);
  __builtin_memcpy(data, b->data, b->len);
  b->data = data;
  b->cap = cap;
}

static void buf_put(Buf *b, const char *s, size_t n) {
  buf_reserve(b, n);
  __builtin_memcpy(b->data + b->len, s, n);
  b->len += n;
}

static void buf_putc(Buf *b, char c) { buf_put(b, &c, 1); }

static size_t cstr_len(const char *s) {
  size_t n = 0;
  while (s[n]) n++;
  return n;
}

static void buf_puts(Buf *b, const char *s) { buf_put(b, s, cstr_len(s)); }

static void buf_put_uint(Buf *b, uint64_t v) {
  char digits[24];
  int n = 0;
  do {
    digits[n++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  while (n) buf_putc(b, digits[--n]);
}

/* A non-negative tenths value (e.g. 725 -> "72.5"). */
static void buf_put_tenths(Buf *b, uint64_t tenths) {
  buf_put_uint(b, tenths / 10);
  buf_putc(b, '.');
  buf_putc(b, (char)('0' + tenths % 10));
}

static Str buf_str(const Buf *b) { return (Str){b->data, b->len}; }

/* -- text ----------------------------------------------------------------------------------- */

/* memcmp == 0, without libc. */
static bool mem_eq(const void *a, const void *b, size_t n) {
  const u8 *x = a, *y = b;
  for (size_t i = 0; i < n; i++)
    if (x[i] != y[i]) return false;
  return true;
}

static Str str_of(const char *s) { return (Str){s, cstr_len(s)}; }

static bool str_eq(Str a, const char *lit) {
  size_t n = cstr_len(lit);
  return a.n == n && mem_eq(a.p, lit, n);
}

/* The code point at p (at most end - p bytes); *len gets its length. Bad UTF-8 reads as
 * U+FFFD, one byte at a time, so a scan always makes progress. */
static u32 utf8_at(const char *p, const char *end, int *len) {
  u8 c = (u8)p[0];
  *len = 1;
  if (c < 0x80) return c;
  int n = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : c >= 0xC0 ? 2 : 0;
  if (n == 0 || end - p < n) return 0xFFFD;
  u32 cp = c & (0x7F >> n);
  for (int i = 1; i < n; i++) {
    u8 k = (u8)p[i];
    if ((k & 0xC0) != 0x80) return 0xFFFD;
    cp = (cp << 6) | (k & 0x3F);
  }
  *len = n;
  return cp;
}

static void utf8_put(Buf *b, u32 cp) {
  char s[4];
  if (cp < 0x80) {
    buf_putc(b, (char)cp);
  } else if (cp < 0x800) {
    s[0] = (char)(0xC0 | (cp >> 6));
    s[1] = (char)(0x80 | (cp & 0x3F));
    buf_put(b, s, 2);
  } else if (cp < 0x10000) {
    s[0] = (char)(0xE0 | (cp >> 12));
    s[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[2] = (char)(0x80 | (cp & 0x3F));
    buf_put(b, s, 3);
  } else {
    s[0] = (char)(0xF0 | (cp >> 18));
    s[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
    s[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
    s[3] = (char)(0x80 | (cp & 0x3F));
    buf_put(b, s, 4);
  }
}

static bool cp_is_digit(u32 c) { return c >= '0' && c <= '9'; }

/* Letters: ASCII, Latin-1 and Latin Extended, Greek, Cyrillic, and (coarsely) every code point
 * from U+0250 up that is not punctuation, a symbol or a space. Enough to find word edges. */
static bool cp_is_letter(u32 c) {
  if (c < 0x80) return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
  if (c < 0xC0) return c == 0xAA || c == 0xB5 || c == 0xBA;
  if (c == 0xD7 || c == 0xF7) return false;
  if (c >= 0x2000 && c <= 0x2BFF) return false; /* punctuation, symbols, arrows, dingbats */
  if (c >= 0x3000 && c <= 0x303F) return false; /* CJK punctuation */
  if (c >= 0xFE30 && c <= 0xFE4F) return false;
  if (c >= 0xFF00 && c <= 0xFF20) return false;
  if (c >= 0x1F000 && c <= 0x1FAFF) return false; /* emoji */
  return c != 0xFFFD && c != 0xFEFF;
}

static bool cp_is_upper(u32 c) {
  if (c < 0x80) return c >= 'A' && c <= 'Z';
  if (c >= 0xC0 && c <= 0xDE) return c != 0xD7;
  if (c >= 0x100 && c <= 0x137) return (c & 1) == 0;
  if (c >= 0x139 && c <= 0x148) return (c & 1) == 1;
  if (c >= 0x14A && c <= 0x177) return (c & 1) == 0;
  if (c == 0x178 || c == 0x179 || c == 0x17B || c == 0x17D) return true;
  if (c >= 0x391 && c <= 0x3AB) return c != 0x3A2;
  if (c >= 0x400 && c <= 0x42F) return true;
  return false;
}

/* Lower case for ASCII and the Latin-1 capitals (enough for comparing words). */
static u32 cp_lower(u32 c) {
  if ((c >= 'A' && c <= 'Z') || (c >= 0xC0 && c <= 0xDE && c != 0xD7)) return c + 32;
  return c;
}

static bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

/* A word: letters and digits, joined across one inner apostrophe (' or U+2019) or hyphen. */
static bool word_char_at(const char *p, const char *end, int *len) {
  u32 c = utf8_at(p, end, len);
  return cp_is_letter(c) || cp_is_digit(c);
}

static size_t joiner_len(const char *p, const char *end) {
  if (p < end && (*p == '\'' || *p == '-')) return 1;
  if (end - p >= 3 && (u8)p[0] == 0xE2 && (u8)p[1] == 0x80 && (u8)p[2] == 0x99) return 3;
  return 0;
}

/* The end of the word starting at p. */
static const char *word_end(const char *p, const char *end) {
  int len;
  while (p < end) {
    if (word_char_at(p, end, &len)) {
      p += len;
      continue;
    }
    size_t j = joiner_len(p, end);
    if (j && p + j < end && word_char_at(p + j, end, &len)) {
      p += j;
      continue;
    }
    break;
  }
  return p;
}

/* Does the word start at p (a word character not preceded by one)? */
static bool word_starts(const char *text, const char *p, const char *end) {
  int len;
  if (p >= end || !word_char_at(p, end, &len)) return false;
  if (p == text) return true;
  const char *q = p - 1;
  while (q > text && ((u8)*q & 0xC0) == 0x80) q--;
  return !word_char_at(q, end, &len);
}

/* The next word of `text` at or after p, or false at `end`. */
static bool next_word_in(const char *text, const char *p, const char *end, Str *w) {
  int len;
  while (p < end && !(word_char_at(p, end, &len) && word_starts(text, p, end))) p++;
  if (p >= end) return false;
  *w = (Str){p, (size_t)(word_end(p, end) - p)};
  return true;
}

/* Case-insensitive comparison of a word with a lower-case ASCII literal. */
static bool word_is(Str w, const char *lit) {
  size_t n = cstr_len(lit);
  if (w.n != n) return false;
  for (size_t i = 0; i < n; i++) {
    char c = w.p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c + 32);
    if (c != lit[i]) return false;
  }
  return true;
}

/* Is the word one of a NULL-terminated list of lower-case literals? */
static bool word_in(Str w, const char *const *list) {
  for (; *list; list++)
    if (word_is(w, *list)) return true;
  return false;
}

/* -- JSON reading --------------------------------------------------------------------------- */

static const char *json_ws(const char *p, const char *end) {
  while (p < end && is_space(*p)) p++;
  return p;
}

/* The end of the string starting at p (on its opening quote), or NULL. */
static const char *json_skip_string(const char *p, const char *end) {
  for (p++; p < end; p++) {
    if (*p == '\\') p++;
    else if (*p == '"') return p + 1;
  }
  return NULL;
}

/* The end of the value starting at p, or NULL when it is not one. */
static const char *json_skip(const char *p, const char *end, int depth) {
  p = json_ws(p, end);
  if (p >= end || depth > 64) return NULL;
  if (*p == '"') return json_skip_string(p, end);
  if (*p == '{' || *p == '[') {
    char close = *p == '{' ? '}' : ']';
    p = json_ws(p + 1, end);
    if (p < end && *p == close) return p + 1;
    for (;;) {
      if (close == '}') {
        p = json_ws(p, end);
        if (p >= end || *p != '"' || !(p = json_skip_string(p, end))) return NULL;
        p = json_ws(p, end);
        if (p >= end || *p != ':') return NULL;
        p++;
      }
      if (!(p = json_skip(p, end, depth + 1))) return NULL;
      p = json_ws(p, end);
      if (p < end && *p == ',') {
        p++;
        continue;
      }
      return p < end && *p == close ? p + 1 : NULL;
    }
  }
  while (p < end && *p != ',' && *p != '}' && *p != ']' && !is_space(*p)) p++;
  return p;
}

/* Iterates the members of an object or the items of an array. */
typedef struct {
  const char *p, *end;
} JIter;

static bool json_iter(Str v, char open, JIter *it) {
  const char *p = json_ws(v.p, v.p + v.n);
  if (p >= v.p + v.n || *p != open) return false;
  it->p = p + 1;
  it->end = v.p + v.n;
  return true;
}

/* The next member: its raw key (with quotes) and its value. */
static bool json_next_member(JIter *it, Str *key, Str *value) {
  const char *p = json_ws(it->p, it->end);
  if (p < it->end && *p == ',') p = json_ws(p + 1, it->end);
  if (p >= it->end || *p != '"') return false;
  const char *k = p;
  if (!(p = json_skip_string(p, it->end))) return false;
  *key = (Str){k, (size_t)(p - k)};
  p = json_ws(p, it->end);
  if (p >= it->end || *p != ':') return false;
  const char *v = json_ws(p + 1, it->end);
  if (!(p = json_skip(v, it->end, 0))) return false;
  *value = (Str){v, (size_t)(p - v)};
  it->p = p;
  return true;
}

static bool json_next_item(JIter *it, Str *value) {
  const char *p = json_ws(it->p, it->end);
  if (p < it->end && *p == ',') p = json_ws(p + 1, it->end);
  if (p >= it->end || *p == ']') return false;
  const char *v = p;
  if (!(p = json_skip(v, it->end, 0))) return false;
  *value = (Str){v, (size_t)(p - v)};
  it->p = p;
  return true;
}

/* The value of the member `key` (a plain ASCII name) of an object. */
static bool json_member(Str obj, const char *key, Str *value) {
  JIter it;
  Str k, v;
  size_t n = cstr_len(key);
  if (!json_iter(obj, '{', &it)) return false;
  while (json_next_member(&it, &k, &v)) {
    if (k.n == n + 2 && mem_eq(k.p + 1, key, n)) {
      *value = v;
      return true;
    }
  }
  return false;
}

static int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  c = (char)(c | 0x20);
  return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int32_t json_hex4(const char *p, const char *end) {
  if (end - p < 4) return -1;
  int32_t v = 0;
  for (int i = 0; i < 4; i++) {
    int h = hex_value(p[i]);
    if (h < 0) return -1;
    v = v * 16 + h;
  }
  return v;
}

/* Decode a JSON string value (escapes, surrogate pairs; a lone surrogate becomes U+FFFD). */
static bool json_string(Str v, Buf *out) {
  const char *p = v.p, *end = v.p + v.n;
  if (v.n < 2 || *p != '"' || end[-1] != '"') return false;
  for (p++, end--; p < end; p++) {
    if (*p != '\\') {
      buf_putc(out, *p);
      continue;
    }
    if (++p >= end) return false;
    switch (*p) {
      case 'n': buf_putc(out, '\n'); break;
      case 't': buf_putc(out, '\t'); break;
      case 'r': buf_putc(out, '\r'); break;
      case 'b': buf_putc(out, '\b'); break;
      case 'f': buf_putc(out, '\f'); break;
      case 'u': {
        int32_t cp = json_hex4(p + 1, end);
        if (cp < 0) return false;
        p += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && end - p > 6 && p[1] == '\\' && p[2] == 'u') {
          int32_t low = json_hex4(p + 3, end);
          if (low >= 0xDC00 && low <= 0xDFFF) {
            cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
            p += 6;
          }
        }
        utf8_put(out, cp >= 0xD800 && cp <= 0xDFFF ? 0xFFFD : (u32)cp);
        break;
      }
      default: buf_putc(out, *p); /* \" \\ \/ */
    }
  }
  return true;
}

/* A string argument, decoded into a fresh buffer. */
static bool arg_string(Str args, const char *key, Buf *out) {
  Str v;
  buf_init(out, 64);
  return json_member(args, key, &v) && json_string(v, out);
}

static bool json_is_true(Str v) { return v.n == 4 && mem_eq(v.p, "true", 4); }

/* A boolean argument, or `fallback` when absent. */
static bool arg_bool(Str args, const char *key, bool fallback) {
  Str v;
  return json_member(args, key, &v) ? json_is_true(v) : fallback;
}

/* A small non-negative integer argument, or `fallback` when absent or not one. */
static long arg_int(Str args, const char *key, long fallback) {
  Str v;
  if (!json_member(args, key, &v) || v.n == 0 || v.n > 9) return fallback;
  long n = 0;
  for (size_t i = 0; i < v.n; i++) {
    if (!cp_is_digit((u8)v.p[i])) return fallback;
    n = n * 10 + (v.p[i] - '0');
  }
  return n;
}

/* -- JSON writing and the answer ------------------------------------------------------------ */

static void json_put_string(Buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  buf_reserve(b, n + 2);
  buf_putc(b, '"');
  for (size_t i = 0; i < n; i++) {
    u8 c = (u8)s[i];
    if (c == '"' || c == '\\') {
      buf_putc(b, '\\');
      buf_putc(b, (char)c);
    } else if (c == '\n') {
      buf_put(b, "\\n", 2);
    } else if (c < 0x20) {
      char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
      buf_put(b, e, 6);
    } else {
      buf_putc(b, (char)c);
    }
  }
  buf_putc(b, '"');
}

/* `,"key":` (the comma unless `first`). */
static void json_key(Buf *b, const char *key, bool first) {
  if (!first) buf_putc(b, ',');
  buf_putc(b, '"');
  buf_puts(b, key);
  buf_put(b, "\":", 2);
}

static i64 answer_of(const Buf *b) { return (i64)(((uint64_t)(size_t)b->data << 32) | (uint64_t)b->len); }

static i64 answer_error(const char *message) {
  Buf b;
  buf_init(&b, 64);
  buf_puts(&b, "{\"error\":");
  json_put_string(&b, message, cstr_len(message));
  buf_putc(&b, '}');
  return answer_of(&b);
}

/* Start `{"result":` in a buffer sized for `hint` bytes; finish with answer_end. */
static void answer_begin(Buf *b, size_t hint) {
  buf_init(b, hint + 64);
  buf_puts(b, "{\"result\":");
}

static i64 answer_end(Buf *b) {
  buf_putc(b, '}');
  return answer_of(b);
}

static i64 dispatch(Str tool, Str args);

__attribute__((export_name("call"))) i64 call(const char *p, int32_t n) {
  Str request = {p, n < 0 ? 0 : (size_t)n}, tool, args;
  Buf name;
  if (!json_member(request, "tool", &tool) || !json_member(request, "arguments", &args)) {
    return answer_error("the request is not {\"tool\", \"arguments\"}");
  }
  buf_init(&name, 64);
  if (!json_string(tool, &name)) return answer_error("the tool name is not a string");
  return dispatch(buf_str(&name), args);
}

#endif
