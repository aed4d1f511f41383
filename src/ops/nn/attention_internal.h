/* The attention kernels of attention.c for ops that run them entry by
 * entry inside their own loops (self_attention.c fuses them with the qkv
 * projection). An entry is one image and head. Internal to the library. */
#ifndef EQ_OPS_NN_ATTENTION_INTERNAL_H
#define EQ_OPS_NN_ATTENTION_INTERNAL_H

#include "ops/nn/nn_common.h"

/* Operands addressed through leading-dim strides and a row stride: q, k,
 * v, the mask (leading strides only, 0 where it broadcasts), the output
 * (its gradient shares its layout), dq, dk, dv. */
enum { ATT_Q, ATT_K, ATT_V, ATT_MASK, ATT_OUT, ATT_DQ, ATT_DK, ATT_DV, ATT_OPERANDS };

typedef struct att_ctx {
  int64_t B, Lq, Lk, D, Dv;
  double scale;
  int nlead;
  int64_t lead_shape[EQ_MAX_DIMS];
  /* element strides of the leading dims and row strides, per operand */
  int64_t lead_stride[ATT_OPERANDS][EQ_MAX_DIMS], ld[ATT_OPERANDS];
  const void *mask;
  bool mask_bool;
  size_t mask_elem;
  int64_t mstride_q, mstride_k;
  double *lse; /* [B * Lq], kept for the backward's recomputation; NULL when not needed */
  void *probs; /* [B, Lq, Lk] softmax kept for the backward, or NULL: recomputed from lse */
} att_ctx;

/* c for q, k, v as the thirds of contiguous rows [n, L, 3 dim] (each third
 * `heads` heads of dim / heads features), the output [n, L, dim] with the
 * heads interleaved in each row, and the gradients in the qkv layout; no
 * mask. scale <= 0 means 1/sqrt(head dim). Entry b is image b / heads,
 * head b % heads. */
void eq_nn_att_qkv_rows_ctx(att_ctx *c, int64_t n, int64_t L, int64_t dim, int heads, double scale);

/* Bytes of the state the backward needs (elements of elem bytes), kept
 * in the node's context (has_node) or none without a node; then its
 * attachment to c. */
size_t eq_nn_att_state_bytes(const att_ctx *c, size_t elem, bool has_node);
void eq_nn_att_state_attach(att_ctx *c, void *state, bool has_node);

/* One thread's scratch, in elements, for eq_nn_att_*_entry_f32 (forward:
 * blocks 1, backward: blocks 2). */
size_t eq_nn_att_scratch(const att_ctx *c, int blocks);

/* The whole forward into o (with no keys, o is the caller's to zero), or
 * backward into dq, dk, dv (addressed as ATT_DQ, ATT_DK, ATT_DV; NULL: not
 * wanted; fresh[k]: write, else add), over the threads, float32 or
 * float64. */
eq_status eq_nn_att_forward(const att_ctx *c, eq_dtype dt, const void *q, const void *k, const void *v, void *o);
eq_status eq_nn_att_backward(const att_ctx *c, eq_dtype dt, const void *q, const void *k, const void *v,
                             const void *dout, void *dq, void *dk, void *dv, const bool *fresh);

/* Entry b on this thread (float32): the forward into o (addressed as
 * ATT_OUT), keeping what c asks for; the backward from this entry's output
 * gradient rows dout (row stride ld[ATT_OUT]) into its dq, dk, dv rows (row
 * strides ld[ATT_DQ], ld[ATT_DK], ld[ATT_DV]). scratch holds
 * eq_nn_att_scratch(c, 1) (forward) or (c, 2) (backward) floats. */
void eq_nn_att_fwd_entry_f32(const att_ctx *c, int64_t b, const float *q, const float *k, const float *v, float *o,
                             float *scratch);
void eq_nn_att_bwd_entry_f32(const att_ctx *c, int64_t b, const float *q, const float *k, const float *v,
                             const float *dout, float *dq, float *dk, float *dv, const bool *fresh, float *scratch);
/* Asks for entry b's q, k and v rows in L2. */
void eq_nn_att_prefetch_entry_f32(const att_ctx *c, const float *q, const float *k, const float *v, int64_t b);

#endif
