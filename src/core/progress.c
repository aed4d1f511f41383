/* Terminal progress bar and JSON-lines writer. */
#include "equivar/progress.h"

#include "equivar/core.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int progress_enabled(void) {
  const char *env = getenv("EQ_PROGRESS");
  if (env && env[0] == '0') return 0;
  if (env && env[0] == '1') return 1;
  return isatty(STDERR_FILENO);
}

static void format_duration(char *buf, size_t n, double seconds) {
  if (!isfinite(seconds) || seconds < 0) {
    snprintf(buf, n, "?");
    return;
  }
  long s = (long)(seconds + 0.5);
  if (s >= 3600)
    snprintf(buf, n, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
  else
    snprintf(buf, n, "%ld:%02ld", s / 60, s % 60);
}

static void progress_draw(eq_progress *p, int final) {
  double now = eq_now_seconds();
  double elapsed = now - p->start;
  double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
  char eta[32], took[32];
  const int width = 24;
  int filled = p->total > 0 ? (int)((double)width * (double)p->done / (double)p->total) : 0;
  if (filled > width) filled = width;
  char bar[64];
  for (int i = 0; i < width; i++) bar[i] = i < filled ? '#' : ' ';
  bar[width] = '\0';
  if (final) {
    format_duration(took, sizeof took, elapsed);
    fprintf(stderr, "\r%s [%s] %lld/%lld  %.1f %s/s  took %s\n", p->label, bar, (long long)p->done,
            (long long)p->total, rate, p->unit, took);
  } else {
    format_duration(eta, sizeof eta, rate > 0 ? (double)(p->total - p->done) / rate : NAN);
    fprintf(stderr, "\r%s [%s] %lld/%lld  %.1f %s/s  ETA %s ", p->label, bar, (long long)p->done,
            (long long)p->total, rate, p->unit, eta);
  }
  fflush(stderr);
  p->last_draw = now;
}

void eq_progress_start(eq_progress *p, const char *label, int64_t total, const char *unit) {
  p->label = label;
  p->unit = unit ? unit : "it";
  p->total = total;
  p->done = 0;
  p->start = eq_now_seconds();
  p->last_draw = 0;
  p->enabled = progress_enabled();
  if (p->enabled) progress_draw(p, 0);
}

void eq_progress_add(eq_progress *p, int64_t n) {
  p->done += n;
  if (p->enabled && eq_now_seconds() - p->last_draw >= 0.1) progress_draw(p, 0);
}

void eq_progress_finish(eq_progress *p) {
  if (p->enabled) progress_draw(p, 1);
}

eq_jsonl *eq_jsonl_open(const char *path) {
  eq_jsonl *log = calloc(1, sizeof *log);
  if (!log) {
    eq_error(EQ_ERR_MEMORY, "out of memory opening log '%s'", path);
    return NULL;
  }
  if (!strcmp(path, "-")) {
    log->out = stdout;
  } else {
    log->out = fopen(path, "a");
    if (!log->out) {
      eq_error(EQ_ERR_IO, "cannot open log file '%s': %s", path, strerror(errno));
      free(log);
      return NULL;
    }
  }
  return log;
}

void eq_jsonl_close(eq_jsonl *log) {
  if (!log) return;
  if (log->out && log->out != stdout) fclose(log->out);
  free(log);
}

void eq_json_write_string(FILE *out, const char *s) {
  fputc('"', out);
  for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
    switch (*c) {
    case '"': fputs("\\\"", out); break;
    case '\\': fputs("\\\\", out); break;
    case '\n': fputs("\\n", out); break;
    case '\r': fputs("\\r", out); break;
    case '\t': fputs("\\t", out); break;
    default:
      if (*c < 0x20)
        fprintf(out, "\\u%04x", *c);
      else
        fputc(*c, out);
    }
  }
  fputc('"', out);
}

void eq_jsonl_begin(eq_jsonl *log) {
  fputc('{', log->out);
  log->fields = 0;
}

static void json_key(eq_jsonl *log, const char *key) {
  if (log->fields++) fputc(',', log->out);
  eq_json_write_string(log->out, key);
  fputc(':', log->out);
}

void eq_jsonl_str(eq_jsonl *log, const char *key, const char *value) {
  json_key(log, key);
  eq_json_write_string(log->out, value);
}

void eq_jsonl_num(eq_jsonl *log, const char *key, double value) {
  json_key(log, key);
  if (isfinite(value))
    fprintf(log->out, "%.9g", value);
  else
    fputs("null", log->out);
}

void eq_jsonl_int(eq_jsonl *log, const char *key, int64_t value) {
  json_key(log, key);
  fprintf(log->out, "%lld", (long long)value);
}

void eq_jsonl_end(eq_jsonl *log) {
  fputs("}\n", log->out);
  fflush(log->out);
}
