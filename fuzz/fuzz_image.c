/* PNG/JPEG decoding (libpng/libjpeg wrappers): any bytes give an image or a
 * clean error, never a crash, leak or exit(). */
#include "equivar/image.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  int w, h, c;
  if (eq_image_probe(data, size, "fuzz.img", &w, &h, &c) != EQ_OK) return 0;
  /* Huge declared sizes decode slowly without finding anything new. */
  if ((uint64_t)w * h > (1u << 20)) return 0;
  for (int want = 0; want <= 3; want += (want == 0 ? 1 : 2)) {
    eq_image img;
    if (eq_image_decode(data, size, "fuzz.img", want, &img) == EQ_OK) {
      if (img.width != w || img.height != h) abort();
      if (want && img.channels != want) abort();
      eq_image_free(&img);
    } else if (img.pixels) {
      abort(); /* a failed decode must not hand back pixels */
    }
  }
  return 0;
}
