/* equivar optim: SGD (momentum, Nesterov), AdamW and LARS as loops over the
 * flat parameter / gradient / state buffers of an eq_params (nn.h);
 * cosine learning-rate schedule with linear warm-up; gradient clipping.
 *
 * Parameter groups: parameters flagged EQ_PARAM_NO_DECAY (biases, norm
 * weights, tokens and positions) get no weight decay, and LARS does not adapt
 * their learning rate - the usual recipe of SimCLR/VICReg/timm. Set
 * decay_all to apply decay to everything (PyTorch's single-group default).
 * Frozen parameters and buffers are never touched.
 *
 * Update rules (PyTorch semantics; g = gradient, p = parameter, wd = weight
 * decay of the parameter's group, lr = the learning rate passed to the step):
 *   SGD:   g += wd p; b = g on the first step, else b = m b + (1 - dampening) g;
 *          d = nesterov ? g + m b : b (or g when m = 0); p -= lr d
 *   AdamW: p *= 1 - lr wd; m1 = b1 m1 + (1 - b1) g; m2 = b2 m2 + (1 - b2) g^2;
 *          p -= lr / (1 - b1^t) * m1 / (sqrt(m2 / (1 - b2^t)) + eps)
 *   LARS (as in the VICReg/Barlow Twins reference code): for decayed
 *          parameters g += wd p, then g *= eta ||p|| / ||g|| when both norms are
 *          positive; b = m b + g; p -= lr b
 */
#ifndef EQUIVAR_OPTIM_H
#define EQUIVAR_OPTIM_H

#include "equivar/nn.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef enum eq_optim_kind { EQ_OPTIM_SGD = 0, EQ_OPTIM_ADAMW, EQ_OPTIM_LARS } eq_optim_kind;

typedef struct eq_optim_config {
  eq_optim_kind kind;
  double momentum;          /* SGD, LARS */
  double dampening;         /* SGD */
  bool nesterov;            /* SGD (needs momentum > 0 and dampening 0) */
  double weight_decay;
  double beta1, beta2, eps; /* AdamW */
  double trust_coefficient; /* LARS eta */
  bool decay_all;           /* also decay (and LARS-adapt) EQ_PARAM_NO_DECAY parameters */
} eq_optim_config;

/* Defaults: SGD momentum 0.9; AdamW betas (0.9, 0.999), eps 1e-8, weight
 * decay 0.01 (PyTorch's AdamW default); LARS momentum 0.9, eta 0.001. */
eq_optim_config eq_optim_defaults(eq_optim_kind kind);
const char *eq_optim_kind_name(eq_optim_kind kind); /* "sgd", "adamw", "lars" */
eq_status eq_optim_kind_parse(const char *name, eq_optim_kind *out);

typedef struct eq_optimizer {
  eq_optim_config cfg;
  eq_params *params; /* not owned */
  int n_state;       /* flat state buffers: 1 (SGD, LARS) or 2 (AdamW) */
  float *state[2];   /* same layout as params->data */
  int64_t step;      /* steps taken so far (AdamW's bias correction, SGD's first-step rule) */
} eq_optimizer;

/* The params must be built. Errors on invalid hyper-parameters. */
eq_optimizer *eq_optim_new(eq_params *params, const eq_optim_config *cfg);
void eq_optim_free(eq_optimizer *o);
/* One update with learning rate lr from the gradients in params->grad.
 * Does not zero the gradients. */
eq_status eq_optim_step(eq_optimizer *o, double lr);
/* Names of the state buffers, as PyTorch's optimiser state_dict calls them:
 * "momentum_buffer" (SGD, LARS) or "exp_avg", "exp_avg_sq" (AdamW). */
const char *eq_optim_state_name(const eq_optimizer *o, int k);

/* Learning rate at `step` (0-based) of `total`: linear warm-up
 * base * (step + 1) / warmup for step < warmup, then a cosine from base to
 * final_lr reached at step total - 1 and held after. */
double eq_lr_cosine(int64_t step, int64_t total, int64_t warmup, double base_lr, double final_lr);

/* L2 norm of all gradients (double accumulation). */
double eq_grad_norm(const eq_params *P);
/* torch.nn.utils.clip_grad_norm_: if the norm exceeds max_norm, scales all
 * gradients by max_norm / (norm + 1e-6). Returns the norm before clipping
 * (NaN/Inf when a gradient is not finite: the caller should stop). */
double eq_clip_grad_norm(eq_params *P, double max_norm);

#ifdef __cplusplus
}
#endif
#endif
