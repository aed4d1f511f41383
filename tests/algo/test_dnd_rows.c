/* The algorithms on dnd arrays: k-means and PCA fed with eq_dnd arrays
 * (split 0 and replicated) give scikit-learn's results, results come back
 * as dnd arrays with the input's split; a column split is refused. */
#include "algo_test.h"
#include "equivar/algo_dnd.h"

static void run(int split) {
  const eq_comm *comm = eq_comm_world();
  eq_tensor *X = ref_load("kmeans_X"), *init = ref_load("kmeans_init"), *lab = ref_load("kmeans_labels");
  eq_dnd *Xd = eq_dnd_from_tensor(X, split ? 0 : EQ_DND_NONE, comm);
  eq_rows R;
  CHECK(Xd && eq_rows_from_dnd(Xd, &R) == EQ_OK);
  eq_kmeans_params p = eq_kmeans_defaults(3);
  p.init = EQ_KMEANS_GIVEN;
  p.init_centers = init;
  eq_kmeans *m = eq_kmeans_new(&p);
  CHECK(eq_kmeans_fit(m, R) == EQ_OK);
  CHECK_CLOSE(m->inertia, scalar_of("kmeans_inertia"), 1e-9, 0);
  eq_dnd *L = eq_dnd_from_rows_result(eq_kmeans_predict(m, R), Xd);
  CHECK(L && L->split == Xd->split && L->shape[0] == X->shape[0]);
  eq_tensor *all = L ? eq_dnd_to_tensor(L) : NULL;
  CHECK(all && max_abs_diff(all, lab) == 0);
  eq_tensor_free(all);
  eq_dnd_free(L);
  eq_kmeans_free(m);

  /* PCA transform comes back as an (n, k) array split like X */
  eq_tensor *P = ref_load("pca_X"), *Zr = ref_load("pca_transform");
  eq_dnd *Pd = eq_dnd_from_tensor(P, split ? 0 : EQ_DND_NONE, comm);
  eq_pca_params pp = eq_pca_defaults(3);
  eq_pca *pca = eq_pca_new(&pp);
  CHECK(Pd && eq_rows_from_dnd(Pd, &R) == EQ_OK && eq_pca_fit(pca, R) == EQ_OK);
  eq_dnd *Z = eq_dnd_from_rows_result(eq_pca_transform(pca, R), Pd);
  eq_tensor *Za = Z ? eq_dnd_to_tensor(Z) : NULL;
  CHECK(Za && max_abs_diff(Za, Zr) < 1e-8);
  eq_tensor_free(Za), eq_dnd_free(Z), eq_pca_free(pca), eq_dnd_free(Pd), eq_tensor_free(P), eq_tensor_free(Zr);

  /* column split: refused with a clear error */
  eq_dnd *Xc = eq_dnd_from_tensor(X, 1, comm);
  CHECK(Xc && eq_rows_from_dnd(Xc, &R) == EQ_ERR_UNSUPPORTED && strstr(eq_error_message(), "resplit"));
  eq_dnd_free(Xc);
  eq_dnd_free(Xd);
  eq_tensor_free(X), eq_tensor_free(init), eq_tensor_free(lab);
}

/* rbf on eq_dnd_cdist and manhattan, every split of A and B */
static void kernels(void) {
  const eq_comm *comm = eq_comm_world();
  eq_tensor *A = ref_load("sp_A"), *B = ref_load("sp_B"), *Kr = ref_load("sp_rbf"), *Mr = ref_load("sp_manhattan");
  int splits[2] = {0, EQ_DND_NONE};
  for (int a = 0; a < 2; a++)
    for (int b = 0; b < 2; b++) {
      eq_dnd *Ad = eq_dnd_from_tensor(A, splits[a], comm), *Bd = eq_dnd_from_tensor(B, splits[b], comm);
      eq_dnd *K = eq_dnd_rbf(Ad, Bd, 0.3), *M = eq_dnd_manhattan(Ad, Bd);
      eq_tensor *Ka = K ? eq_dnd_to_tensor(K) : NULL, *Ma = M ? eq_dnd_to_tensor(M) : NULL;
      CHECK_MSG(Ka && max_abs_diff(Ka, Kr) < 1e-12, "rbf a=%d b=%d", a, b);
      CHECK_MSG(Ma && max_abs_diff(Ma, Mr) < 1e-12, "manhattan a=%d b=%d", a, b);
      CHECK(M && M->split == Ad->split);
      eq_tensor_free(Ka), eq_tensor_free(Ma), eq_dnd_free(K), eq_dnd_free(M), eq_dnd_free(Ad), eq_dnd_free(Bd);
    }
  eq_tensor_free(A), eq_tensor_free(B), eq_tensor_free(Kr), eq_tensor_free(Mr);
}

int main(int argc, char **argv) {
  test_init(&argc, &argv);
  run(1);
  run(0);
  kernels();
  return test_finish();
}
