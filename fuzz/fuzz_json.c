/* The JSON config reader and the augmentation/loader configs built on it. */
#include "equivar/json.h"
#include "equivar/loader.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  eq_json *j = eq_json_parse((const char *)data, size, "fuzz.json");
  if (!j) return 0;
  eq_aug_config a;
  eq_aug_config_from_json(j, 0, &a);
  eq_loader_config l;
  eq_loader_config_default(&l, 32);
  eq_loader_config_from_json(j, &l);
  eq_g_config g;
  eq_g_config_from_json(j, &g);
  eq_json_free(j);
  return 0;
}
