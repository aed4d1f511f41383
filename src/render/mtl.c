/* Wavefront MTL: newmtl, Kd and map_Kd (with its options skipped). Other
 * statements (Ka, Ks, Ns, d, illum, ...) do not change how equivar shades. */
#include <stdlib.h>
#include <string.h>

#include "render/render_internal.h"

void eq_mtl_free(eq_mtl_library *lib) {
  if (!lib) return;
  for (int i = 0; i < lib->count; i++) free(lib->entries[i].texture_path);
  free(lib->entries);
  lib->entries = NULL;
  lib->count = 0;
}

/* Options of map_Kd and how many arguments each takes (-1: up to 3 numbers). */
static int option_args(const char *opt) {
  static const char *one[] = {"-blendu", "-blendv", "-cc", "-clamp", "-bm", "-boost", "-texres", "-imfchan", "-type"};
  for (size_t i = 0; i < sizeof one / sizeof one[0]; i++)
    if (!strcmp(opt, one[i])) return 1;
  if (!strcmp(opt, "-mm")) return 2;
  if (!strcmp(opt, "-o") || !strcmp(opt, "-s") || !strcmp(opt, "-t")) return -1;
  return 0;
}

static eq_status parse_map(char *rest, const char *name, int64_t line, char **out) {
  for (;;) {
    while (eq_is_blank(*rest)) rest++;
    if (*rest != '-') break;
    char *opt = eq_next_token(&rest);
    int args = option_args(opt);
    if (args == 0)
      return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: unknown map_Kd option '%s'", name, (long long)line, opt);
    if (args > 0) {
      for (int i = 0; i < args; i++)
        if (!eq_next_token(&rest))
          return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: map_Kd option '%s' lacks its argument", name, (long long)line, opt);
    } else {
      float x;
      for (int i = 0; i < 3 && eq_parse_float(&rest, &x); i++) {
      }
    }
  }
  if (!*rest) return eq_error(EQ_ERR_FORMAT, "'%s' line %lld: map_Kd without a file name", name, (long long)line);
  free(*out);
  *out = eq_strdup(rest); /* the rest of the line: file names may hold blanks */
  if (!*out) return eq_error(EQ_ERR_MEMORY, "out of memory");
  return EQ_OK;
}

eq_status eq_mtl_parse(const void *bytes, size_t n, const char *name, eq_mtl_library *out) {
  memset(out, 0, sizeof *out);
  eq_lines lines;
  eq_status st = eq_lines_init(&lines, bytes, n, name);
  if (st) return st;
  eq_vec entries;
  eq_vec_init(&entries, sizeof(eq_mtl_entry));
  eq_mtl_entry *cur = NULL;
  char *line;
  while (!st && (line = eq_lines_next(&lines, 1))) {
    if (!*line) continue;
    char *rest = line;
    char *kw = eq_next_token(&rest);
    int64_t ln = lines.line;
    while (eq_is_blank(*rest)) rest++;
    if (!strcmp(kw, "newmtl")) {
      eq_mtl_entry e;
      memset(&e, 0, sizeof e);
      if (!*rest) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: newmtl without a name", name, (long long)ln);
        break;
      }
      strncpy(e.name, rest, sizeof e.name - 1);
      e.diffuse[0] = e.diffuse[1] = e.diffuse[2] = 0.8f;
      if (!eq_vec_push(&entries, &e, 1)) st = eq_error(EQ_ERR_MEMORY, "out of memory");
      cur = (eq_mtl_entry *)entries.data + entries.count - 1;
    } else if (!strcmp(kw, "Kd") || !strcmp(kw, "map_Kd")) {
      if (!cur) {
        st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: '%s' before any newmtl", name, (long long)ln, kw);
      } else if (kw[0] == 'K') {
        float c[3];
        int got = 0;
        while (got < 3 && eq_parse_float(&rest, &c[got])) got++;
        while (eq_is_blank(*rest)) rest++;
        if (got == 1) c[1] = c[2] = c[0]; /* "Kd r" means grey r */
        if (got == 0 || got == 2 || *rest)
          st = eq_error(EQ_ERR_FORMAT, "'%s' line %lld: Kd needs 3 numbers", name, (long long)ln);
        for (int i = 0; i < 3 && !st; i++) cur->diffuse[i] = c[i] < 0 ? 0 : c[i] > 1 ? 1 : c[i];
      } else {
        st = parse_map(rest, name, ln, &cur->texture_path);
      }
    }
  }
  eq_lines_free(&lines);
  out->count = (int)entries.count;
  out->entries = eq_vec_take(&entries);
  if (st) eq_mtl_free(out);
  return st;
}
