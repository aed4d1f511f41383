/* Furniture catalogs and object lists (internal to src/render). */
#ifndef EQ_RENDER_CATALOG_H
#define EQ_RENDER_CATALOG_H

#include "render/render_internal.h"

/* Opens a .sh3f archive, reads its PluginFurnitureCatalog.properties and
 * appends one object per model. */
eq_status eq_render_catalog_add(eq_render_source *s, const char *sh3f_path);
eq_status eq_render_source_add(eq_render_source *s, const char *id, const char *class_name, const char *path,
                               int archive, const float rot[9]);
void eq_render_sanitize(const char *in, char *out, size_t cap, int lower);

/* Java .properties (ISO-8859-1, \uXXXX escapes, continuation lines): calls
 * `fn` with each key and value, both converted to UTF-8. */
typedef eq_status (*eq_properties_fn)(void *ctx, const char *key, const char *value);
eq_status eq_properties_parse(const void *bytes, size_t n, const char *name, eq_properties_fn fn, void *ctx);

/* Class of a catalog entry: the last word of its name that holds a letter,
 * lowercased, ASCII letters and digits only ("Office chair" -> "chair",
 * "Bill 10\u20ac" -> "bill"); "object" when there is none. */
void eq_render_class_from_name(const char *name, char *out, size_t cap);

#endif
