/* Progress bars for long work and JSON-lines logs. */
#ifndef EQUIVAR_PROGRESS_H
#define EQUIVAR_PROGRESS_H

#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/* A one-line bar on stderr: "label  [#####     ] 512/1000  123.4 img/s  ETA 0:04".
 * Redrawn at most 10 times a second; silent when stderr is not a terminal
 * unless EQ_PROGRESS=1, and always silent with EQ_PROGRESS=0. */
typedef struct eq_progress {
  const char *label;
  const char *unit;
  int64_t total;
  int64_t done;
  double start;
  double last_draw;
  int enabled;
} eq_progress;

void eq_progress_start(eq_progress *p, const char *label, int64_t total, const char *unit);
void eq_progress_add(eq_progress *p, int64_t n);
void eq_progress_finish(eq_progress *p); /* final line with the total time */

/* JSON-lines log: one object per line, flushed per record so a crash loses
 * nothing written before it. */
typedef struct eq_jsonl {
  FILE *out;
  int fields; /* fields in the record being built */
} eq_jsonl;

/* Opens `path` for appending ("-" = stdout). NULL + error on failure. */
eq_jsonl *eq_jsonl_open(const char *path);
void eq_jsonl_close(eq_jsonl *log);
void eq_jsonl_begin(eq_jsonl *log);
void eq_jsonl_str(eq_jsonl *log, const char *key, const char *value);
void eq_jsonl_num(eq_jsonl *log, const char *key, double value); /* NaN/Inf written as null */
void eq_jsonl_int(eq_jsonl *log, const char *key, int64_t value);
void eq_jsonl_end(eq_jsonl *log);

/* Writes `s` as a JSON string literal (quotes and escapes included). */
void eq_json_write_string(FILE *out, const char *s);

#ifdef __cplusplus
}
#endif
#endif
