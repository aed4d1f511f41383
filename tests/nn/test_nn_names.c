/* Full-size backbones have exactly the state-dict names, dtypes and shapes
 * of torchvision's resnet18/34/50 and timm's vit_tiny/small_patch16_224
 * (lists written by scripts/gen_model_reference.py), hence the same
 * parameter counts. Weights are built but not run. */
#include "eq_test.h"
#include "equivar/nn.h"
#include "equivar/safetensors.h"

#include <string.h>

static void check_names(const char *model, const char *file) {
  const char *data = getenv("EQ_TEST_DATA");
  char p[512];
  snprintf(p, sizeof p, "%s/models/%s", data ? data : "tests/data", file);
  FILE *f = fopen(p, "r");
  CHECK_MSG(f != NULL, "cannot open %s", p);
  if (!f) return;
  eq_backbone *m = eq_backbone_new(model, 224, 16, 0, 1000, 1);
  CHECK_MSG(m != NULL, "%s: %s", model, eq_error_message());
  if (!m) {
    fclose(f);
    return;
  }
  char name[256], dtype[16], shape[128];
  int lines = 0;
  while (fscanf(f, "%255s %15s %127s", name, dtype, shape) == 3) {
    lines++;
    eq_param *q = eq_params_find(m->params, name);
    CHECK_MSG(q != NULL, "%s: no tensor '%s'", model, name);
    if (!q) continue;
    CHECK_MSG(!strcmp(eq_st_dtype_name(q->dtype), dtype), "%s: %s dtype %s", model, name, dtype);
    char mine[128] = "";
    size_t n = 0;
    for (int d = 0; d < q->ndim; d++) n += (size_t)snprintf(mine + n, sizeof mine - n, d ? ",%lld" : "%lld", (long long)q->shape[d]);
    if (q->ndim == 0) snprintf(mine, sizeof mine, "-");
    CHECK_MSG(!strcmp(mine, shape), "%s: %s has shape %s, torch %s", model, name, mine, shape);
  }
  fclose(f);
  CHECK_MSG(lines == m->params->count, "%s: %d tensors, torch has %d", model, m->params->count, lines);
  eq_backbone_free(m);
}

int main(void) {
  eq_nn_set_init_enabled(false); /* shapes and names only */
  check_names("resnet18", "names_resnet18.txt");
  check_names("resnet34", "names_resnet34.txt");
  check_names("resnet50", "names_resnet50.txt");
  check_names("vit-tiny", "names_vit_tiny.txt");
  check_names("vit-small", "names_vit_small.txt");
  /* Unknown names and bad configurations are refused with a clear message. */
  CHECK(eq_backbone_new("resnet19", 32, 0, 0, 10, 1) == NULL && strstr(eq_error_message(), "resnet19") &&
        strstr(eq_error_message(), "resnet18-small"));
  CHECK(eq_backbone_new("vit-tiny", 30, 16, 0, 10, 1) == NULL && strstr(eq_error_message(), "multiple of patch_size"));
  return EQ_TEST_SUMMARY();
}
