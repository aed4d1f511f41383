/* Backbone shells, the model-name registry and shared helpers. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "nn/nn_internal.h"

eq_status eq_nn_set_init(eq_params *P, const char *prefix, const char *name, eq_init init) {
  char full[256];
  eq_param *p = eq_params_find(P, eq_nn_join(full, sizeof full, prefix, name));
  if (!p) return eq_error(EQ_ERR_STATE, "eq_nn_set_init: no parameter '%s'", full);
  p->init = init;
  return EQ_OK;
}

eq_backbone *eq_backbone_alloc(const char *name) {
  eq_backbone *m = calloc(1, sizeof *m);
  if (!m) return NULL;
  snprintf(m->name, sizeof m->name, "%s", name);
  if (!(m->params = eq_params_new())) {
    free(m);
    return NULL;
  }
  return m;
}

void eq_backbone_free(eq_backbone *m) {
  if (!m) return;
  eq_params_free(m->params); /* clears the module fields first */
  if (m->destroy) m->destroy(m->impl);
  free(m);
}

eq_status eq_backbone_forward(eq_backbone *m, eq_tensor *x, bool training, eq_backbone_out *out) {
  eq_status st = m->forward(m, x, training, out);
  if (st) eq_error_context("%s forward: ", m->name);
  return st;
}

const char *eq_backbone_names(void) {
  return "resnet18, resnet34, resnet50, resnet18-small, resnet34-small, resnet50-small, vit-tiny, vit-small";
}

eq_backbone *eq_backbone_new(const char *name, int image_size, int patch_size, int width, int num_classes,
                             uint64_t seed) {
  eq_backbone *m = NULL;
  if (!strncmp(name, "resnet", 6)) {
    char *end = NULL;
    long depth = strtol(name + 6, &end, 10);
    bool small = end && !strcmp(end, "-small");
    if (end && (small || *end == '\0') && (depth == 18 || depth == 34 || depth == 50)) {
      eq_resnet_config c = {.depth = (int)depth, .width = width > 0 ? width : 64, .in_channels = 3, .num_classes = num_classes,
                            .small_stem = small};
      m = eq_resnet_new(&c, seed);
      if (m) snprintf(m->name, sizeof m->name, "%s", name);
      return m;
    }
  } else if (!strcmp(name, "vit-tiny") || !strcmp(name, "vit-small")) {
    bool tiny = name[4] == 't';
    eq_vit_config c = {.image_size = image_size, .patch_size = patch_size > 0 ? patch_size : 16, .in_channels = 3,
                       .dim = tiny ? 192 : 384, .depth = 12, .heads = tiny ? 3 : 6, .num_classes = num_classes};
    c.mlp_dim = 4 * c.dim;
    m = eq_vit_new(&c, seed);
    if (m) snprintf(m->name, sizeof m->name, "%s", name);
    return m;
  }
  eq_error(EQ_ERR_VALUE, "unknown model '%s' (known: %s)", name, eq_backbone_names());
  return NULL;
}
