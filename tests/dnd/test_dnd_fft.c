/* fft / ifft / rfft / irfft against numpy.fft results stored in
 * tests/data/dnd (scripts/gen_dnd_more_reference.py): lengths 1, 2, 7, 8,
 * 12, 100 (radix-2 and Bluestein), float32 and float64, along each logical
 * axis, for every split (None, each logical axis, the (re, im) axis), plus
 * 1-d arrays (gathered), n (crop / pad), norms, and errors. */
#include "dnd_test_util.h"

static const int64_t LENGTHS[6] = {1, 2, 7, 8, 12, 100};

static double ref2_value(int64_t k) { return (double)((k * 13 + 5) % 17) - 8.0 + 0.5 * (double)(k % 2); }

/* The generator's inputs: complex z (L, 3, 2) and real r (L, 3). */
static eq_tensor *input_z(int64_t L, eq_dtype d) {
  eq_tensor *t = eq_empty(d, EQ_DIMS(L, 3, 2));
  for (int64_t k = 0; k < 3 * L; k++) {
    eq_set_flat(t, 2 * k, ref_value(k, EQ_F64));
    eq_set_flat(t, 2 * k + 1, ref2_value(k));
  }
  return t;
}

static eq_tensor *input_r(int64_t L, eq_dtype d) {
  eq_tensor *t = eq_empty(d, EQ_DIMS(L, 3));
  for (int64_t k = 0; k < 3 * L; k++) eq_set_flat(t, k, ref_value(k, EQ_F64));
  return t;
}

/* Rows [r0, r0 + rows) of a stacked reference (a contiguous copy). */
static eq_tensor *rows_of(const eq_tensor *t, int64_t r0, int64_t rows) {
  eq_tensor *v = eq_slice((eq_tensor *)t, 0, r0, r0 + rows, 1), *c = eq_clone(v);
  eq_tensor_free(v);
  return c;
}

/* Axes 0 and 1 swapped (a contiguous copy). */
static eq_tensor *swap01(const eq_tensor *t) {
  eq_tensor *v = eq_transpose((eq_tensor *)t, 0, 1), *c = eq_clone(v);
  eq_tensor_free(v);
  return c;
}

/* Column 0 of a (L, 3[, 2]) tensor: the 1-d case. */
static eq_tensor *col0(const eq_tensor *t) {
  eq_tensor *v = eq_select((eq_tensor *)t, 1, 0), *c = eq_clone(v);
  eq_tensor_free(v);
  return c;
}

/* Values within tol * max|ref| absolute (FFT errors scale with the norm,
 * not with each output); shape, split, local shapes, balance and dtype. */
static void check_fft(const char *what, const eq_dnd *x, const eq_tensor *ref, int split, eq_dtype dtype, double tol) {
  double mx = 0;
  for (int64_t i = 0; i < eq_numel(ref); i++) mx = fmax(mx, fabs(eq_get_flat(ref, i)));
  double atol = tol * (1 + mx);
  if (!x) {
    CHECK_MSG(x != NULL, "%s: NULL result: %s", what, eq_error_message());
    return;
  }
  bool shape_ok = x->ndim == ref->ndim && x->split == split && x->dtype == dtype && eq_dnd_is_balanced(x);
  int64_t ls[EQ_MAX_DIMS];
  eq_dnd_lshape(x, x->comm->rank, ls);
  for (int i = 0; shape_ok && i < x->ndim; i++) shape_ok = x->shape[i] == ref->shape[i] && x->local->shape[i] == ls[i];
  CHECK_MSG(shape_ok, "%s: got %s (split %d, dtype %s expected)", what, eq_dnd_str(x, (char[128]){0}, 128), split,
            eq_dtype_name(dtype));
  eq_tensor *full = shape_ok ? eq_dnd_to_tensor(x) : NULL;
  if (!full) return;
  double worst = 0;
  for (int64_t i = 0; i < eq_numel(ref); i++) worst = fmax(worst, fabs(eq_get_flat(full, i) - eq_get_flat(ref, i)));
  CHECK_MSG(worst <= atol, "%s: max error %.3g > %.3g", what, worst, atol);
  eq_tensor_free(full);
}

typedef eq_dnd *(*fft_fn)(const eq_dnd *, int, int64_t, eq_dnd_fft_norm);

/* One transform of input `in` (axis-0 reference `ref`) over the dtypes,
 * both axes (axis 1 on the transposed input), and every split. */
static void run_case(const char *name, fft_fn f, bool complex_in, bool complex_out, const eq_tensor *in64,
                     const eq_tensor *ref, int64_t n) {
  for (int di = 0; di < 2; di++) {
    eq_dtype d = di ? EQ_F64 : EQ_F32;
    double tol = di ? 1e-12 : 3e-6;
    eq_tensor *in = eq_to_dtype((eq_tensor *)in64, d);
    for (int ax = 0; ax < 2; ax++) {
      eq_tensor *x = ax ? swap01(in) : eq_clone((eq_tensor *)in), *r = ax ? swap01(ref) : eq_clone((eq_tensor *)ref);
      int nd = x->ndim;
      FOR_SPLITS(s, nd) {
        eq_dnd *dx = eq_dnd_from_tensor(x, s, W);
        eq_dnd *y = f(dx, ax, n, EQ_FFT_BACKWARD);
        /* The (re, im) axis of a real result is gone: that split is None. */
        int want = !complex_out && complex_in && s == nd - 1 ? EQ_DND_NONE : s;
        char what[96];
        snprintf(what, sizeof what, "%s L=%lld %s axis %d split %d", name, (long long)in64->shape[0],
                 eq_dtype_name(d), ax, s);
        check_fft(what, y, r, want, d, tol);
        eq_dnd_free(y);
        eq_dnd_free(dx);
      }
      eq_tensor_free(x);
      eq_tensor_free(r);
    }
    /* 1-d: column 0, split 0 gathers */
    eq_tensor *x1 = col0(in), *r1 = col0(ref);
    FOR_SPLITS(s, 1) {
      eq_dnd *dx = eq_dnd_from_tensor(x1, s, W);
      eq_dnd *y = f(dx, 0, n, EQ_FFT_BACKWARD);
      char what[96];
      snprintf(what, sizeof what, "%s 1-d L=%lld %s split %d", name, (long long)in64->shape[0], eq_dtype_name(d), s);
      check_fft(what, y, r1, s, d, tol);
      eq_dnd_free(y);
      eq_dnd_free(dx);
    }
    eq_tensor_free(x1);
    eq_tensor_free(r1);
    eq_tensor_free(in);
  }
}

static void test_lengths(void) {
  eq_tensor *rf = dnd_load_ref("fft_fft.npy"), *rfi = dnd_load_ref("fft_ifft.npy");
  eq_tensor *rrf = dnd_load_ref("fft_rfft.npy"), *rirf = dnd_load_ref("fft_irfft.npy");
  CHECK(rf && rfi && rrf && rirf);
  if (!(rf && rfi && rrf && rirf)) return;
  int64_t at = 0, atr = 0;
  for (int li = 0; li < 6; li++) {
    int64_t L = LENGTHS[li], h = L / 2 + 1;
    eq_tensor *z = input_z(L, EQ_F64), *r = input_r(L, EQ_F64);
    eq_tensor *zh = rows_of(z, 0, h);
    eq_tensor *ef = rows_of(rf, at, L), *efi = rows_of(rfi, at, L), *erf = rows_of(rrf, atr, h);
    eq_tensor *eirf = rows_of(rirf, at, L);
    run_case("fft", eq_dnd_fft, true, true, z, ef, 0);
    run_case("ifft", eq_dnd_ifft, true, true, z, efi, 0);
    run_case("rfft", eq_dnd_rfft, false, true, r, erf, 0);
    run_case("irfft", eq_dnd_irfft, true, false, zh, eirf, L);
    eq_tensor *all[8] = {z, r, zh, ef, efi, erf, eirf, NULL};
    for (int i = 0; all[i]; i++) eq_tensor_free(all[i]);
    at += L;
    atr += h;
  }
  eq_tensor_free(rf);
  eq_tensor_free(rfi);
  eq_tensor_free(rrf);
  eq_tensor_free(rirf);
}

/* n (zero-pad / crop), the norms, irfft's default length; round trips. */
static void test_options(void) {
  eq_tensor *pad = dnd_load_ref("fft_n_pad.npy"), *crop = dnd_load_ref("fft_n_crop.npy");
  eq_tensor *ortho = dnd_load_ref("fft_ortho.npy"), *ifw = dnd_load_ref("fft_ifft_forward.npy");
  eq_tensor *r9 = dnd_load_ref("fft_rfft_n9.npy"), *ird = dnd_load_ref("fft_irfft_default.npy");
  eq_tensor *ir7 = dnd_load_ref("fft_irfft_n7.npy");
  CHECK(pad && crop && ortho && ifw && r9 && ird && ir7);
  if (!(pad && crop && ortho && ifw && r9 && ird && ir7)) return;
  eq_tensor *z = input_z(12, EQ_F64), *r = input_r(12, EQ_F64);
  FOR_SPLITS(s, 3) {
    eq_dnd *x = eq_dnd_from_tensor(z, s, W), *xr = s < 2 ? eq_dnd_from_tensor(r, s, W) : NULL;
    eq_dnd *y;
    y = eq_dnd_fft(x, 0, 17, EQ_FFT_BACKWARD);
    check_fft("fft n=17 (pad)", y, pad, s, EQ_F64, 1e-12);
    eq_dnd_free(y);
    /* axis -1 is the last logical axis (1), not the (re, im) axis */
    eq_dnd *y1 = eq_dnd_fft(x, 1, 5, EQ_FFT_BACKWARD), *ym = eq_dnd_fft(x, -1, 5, EQ_FFT_BACKWARD);
    bool same = false;
    CHECK(y1 && ym && y1->shape[1] == 5 && eq_dnd_allclose(ym, y1, 0, 0, &same) == EQ_OK && same);
    eq_dnd_free(y1);
    eq_dnd_free(ym);
    y = eq_dnd_fft(x, 0, 5, EQ_FFT_BACKWARD);
    check_fft("fft n=5 (crop)", y, crop, s, EQ_F64, 1e-12);
    eq_dnd_free(y);
    y = eq_dnd_fft(x, 0, 0, EQ_FFT_ORTHO);
    check_fft("fft ortho", y, ortho, s, EQ_F64, 1e-12);
    eq_dnd_free(y);
    y = eq_dnd_ifft(x, 0, 0, EQ_FFT_FORWARD);
    check_fft("ifft forward", y, ifw, s, EQ_F64, 1e-12);
    eq_dnd_free(y);
    y = eq_dnd_irfft(x, 0, 0, EQ_FFT_BACKWARD);
    check_fft("irfft default n", y, ird, s == 2 ? EQ_DND_NONE : s, EQ_F64, 1e-12);
    eq_dnd_free(y);
    y = eq_dnd_irfft(x, 0, 7, EQ_FFT_ORTHO);
    check_fft("irfft n=7 ortho", y, ir7, s == 2 ? EQ_DND_NONE : s, EQ_F64, 1e-12);
    eq_dnd_free(y);
    if (xr) {
      y = eq_dnd_rfft(xr, 0, 9, EQ_FFT_BACKWARD);
      check_fft("rfft n=9", y, r9, s, EQ_F64, 1e-12);
      eq_dnd_free(y);
      /* irfft(rfft(r), n) == r; ifft(fft(z)) == z */
      eq_dnd *f = eq_dnd_rfft(xr, 0, 0, EQ_FFT_BACKWARD), *b = f ? eq_dnd_irfft(f, 0, 12, EQ_FFT_BACKWARD) : NULL;
      check_fft("irfft(rfft(r))", b, r, s, EQ_F64, 1e-12);
      eq_dnd_free(f);
      eq_dnd_free(b);
      /* integers are real input too, transformed in float64 */
      eq_dnd *xi = eq_dnd_astype(xr, EQ_I64);
      eq_tensor *ri = eq_to_dtype(r, EQ_I64), *ri64 = eq_to_dtype(ri, EQ_F64);
      eq_dnd *fi = eq_dnd_rfft(xi, 0, 0, EQ_FFT_BACKWARD), *bi = fi ? eq_dnd_irfft(fi, 0, 12, EQ_FFT_BACKWARD) : NULL;
      check_fft("irfft(rfft(int64))", bi, ri64, s, EQ_F64, 1e-12);
      eq_dnd_free(fi);
      eq_dnd_free(bi);
      eq_dnd_free(xi);
      eq_tensor_free(ri);
      eq_tensor_free(ri64);
    }
    eq_dnd *f = eq_dnd_fft(x, 1, 0, EQ_FFT_ORTHO), *b = f ? eq_dnd_ifft(f, 1, 0, EQ_FFT_ORTHO) : NULL;
    check_fft("ifft(fft(z)) along axis 1", b, z, s, EQ_F64, 1e-12);
    eq_dnd_free(f);
    eq_dnd_free(b);
    eq_dnd_free(x);
    eq_dnd_free(xr);
  }
  /* eq_dnd_complex: re + i im, the layout of im follows re */
  eq_tensor *re = input_r(12, EQ_F64), *im = eq_empty(EQ_F64, EQ_DIMS(12, 3)), *zz = eq_empty(EQ_F64, EQ_DIMS(12, 3, 2));
  for (int k = 0; k < 36; k++) {
    eq_set_flat(im, k, ref2_value(k));
    eq_set_flat(zz, 2 * k + 1, 0);
  }
  FOR_SPLITS(s, 2) FOR_SPLITS(t, 2) {
    eq_dnd *dre = eq_dnd_from_tensor(re, s, W), *dim = eq_dnd_from_tensor(im, t, W);
    eq_dnd *c = eq_dnd_complex(dre, dim);
    check_fft("complex(re, im)", c, z, s, EQ_F64, 0);
    eq_dnd_free(c);
    eq_dnd_free(dre);
    eq_dnd_free(dim);
  }
  eq_dnd *dre = eq_dnd_from_tensor(re, 0, W), *c = eq_dnd_complex(dre, NULL);
  for (int k = 0; k < 36; k++) eq_set_flat(zz, 2 * k, eq_get_flat(re, k));
  check_fft("complex(re)", c, zz, 0, EQ_F64, 0);
  /* errors */
  CHECK(eq_dnd_fft(dre, 0, 0, EQ_FFT_BACKWARD) == NULL && strstr(eq_error_message(), "eq_dnd_fft: x must be complex"));
  CHECK(eq_dnd_irfft(dre, 0, 0, EQ_FFT_BACKWARD) == NULL && strstr(eq_error_message(), "eq_dnd_irfft: x must be complex"));
  CHECK(eq_dnd_fft(c, 2, 0, EQ_FFT_BACKWARD) == NULL && strstr(eq_error_message(), "axis 2 out of range"));
  eq_dnd *one = eq_dnd_zeros(EQ_F64, EQ_DIMS(1, 2), 0, W);
  CHECK(eq_dnd_irfft(one, 0, 0, EQ_FFT_BACKWARD) == NULL && strstr(eq_error_message(), "invalid transform length 0"));
  CHECK(eq_dnd_rfft(dre, 0, 0, (eq_dnd_fft_norm)7) == NULL && strstr(eq_error_message(), "invalid norm 7"));
  eq_dnd *bad = eq_dnd_zeros(EQ_F64, EQ_DIMS(5, 3), 0, W);
  CHECK(eq_dnd_complex(dre, bad) == NULL && strstr(eq_error_message(), "does not match"));
  eq_dnd_free(bad);
  eq_dnd_free(one);
  eq_dnd_free(c);
  eq_dnd_free(dre);
  eq_tensor *all[12] = {pad, crop, ortho, ifw, r9, ird, ir7, z, r, re, im, zz};
  for (int i = 0; i < 12; i++) eq_tensor_free(all[i]);
}

int main(void) {
  DND_TEST_BEGIN();
  test_lengths();
  test_options();
  return DND_TEST_END();
}
