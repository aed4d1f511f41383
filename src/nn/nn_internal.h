/* Helpers shared by the backbone files. */
#ifndef EQ_NN_INTERNAL_H
#define EQ_NN_INTERNAL_H

#include "equivar/nn.h"

/* Evaluates an expression yielding a tensor; on NULL returns the recorded
 * error from the enclosing eq_status function. */
#define EQ_TRY_T(var, expr)        \
  do {                             \
    (var) = (expr);                \
    if (!(var)) return eq_error_code() ? eq_error_code() : EQ_ERR_STATE; \
  } while (0)

#define EQ_TRY(expr)              \
  do {                            \
    eq_status eq_st_ = (expr);    \
    if (eq_st_) return eq_st_;    \
  } while (0)

/* Replaces the initialiser of the already registered parameter `prefix.name`. */
eq_status eq_nn_set_init(eq_params *P, const char *prefix, const char *name, eq_init init);

/* Allocates a backbone shell with a fresh eq_params. */
eq_backbone *eq_backbone_alloc(const char *name);

#endif
