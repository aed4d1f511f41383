/* SGD, AdamW and LARS over the flat parameter buffers. */
#include "equivar/optim.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

eq_optim_config eq_optim_defaults(eq_optim_kind kind) {
  eq_optim_config c = {0};
  c.kind = kind;
  c.beta1 = 0.9;
  c.beta2 = 0.999;
  c.eps = 1e-8;
  c.trust_coefficient = 0.001;
  if (kind == EQ_OPTIM_SGD || kind == EQ_OPTIM_LARS) c.momentum = 0.9;
  if (kind == EQ_OPTIM_ADAMW) c.weight_decay = 0.01;
  return c;
}

static const char *kind_names[] = {"sgd", "adamw", "lars"};

const char *eq_optim_kind_name(eq_optim_kind kind) { return (unsigned)kind < 3 ? kind_names[kind] : "unknown"; }

eq_status eq_optim_kind_parse(const char *name, eq_optim_kind *out) {
  for (int k = 0; k < 3; k++)
    if (!strcmp(name, kind_names[k])) {
      *out = (eq_optim_kind)k;
      return EQ_OK;
    }
  return eq_error(EQ_ERR_VALUE, "unknown optimiser '%s' (known: sgd, adamw, lars)", name);
}

const char *eq_optim_state_name(const eq_optimizer *o, int k) {
  if (o->cfg.kind == EQ_OPTIM_ADAMW) return k == 0 ? "exp_avg" : "exp_avg_sq";
  return "momentum_buffer";
}

eq_optimizer *eq_optim_new(eq_params *params, const eq_optim_config *cfg) {
  const eq_optim_config *c = cfg;
  if (!params || !params->built) {
    eq_error(EQ_ERR_STATE, "eq_optim_new: parameters are not built");
    return NULL;
  }
  if ((unsigned)c->kind > EQ_OPTIM_LARS || !(c->momentum >= 0) || !(c->weight_decay >= 0) || !(c->dampening >= 0) ||
      (c->kind == EQ_OPTIM_ADAMW && !(c->beta1 >= 0 && c->beta1 < 1 && c->beta2 >= 0 && c->beta2 < 1 && c->eps > 0)) ||
      (c->kind == EQ_OPTIM_LARS && !(c->trust_coefficient > 0)) ||
      (c->nesterov && (c->momentum <= 0 || c->dampening != 0))) {
    eq_error(EQ_ERR_VALUE,
             "eq_optim_new: invalid %s settings (momentum %g, dampening %g, nesterov %d, weight_decay %g, betas %g/%g, "
             "eps %g, eta %g)",
             eq_optim_kind_name(c->kind), c->momentum, c->dampening, (int)c->nesterov, c->weight_decay, c->beta1,
             c->beta2, c->eps, c->trust_coefficient);
    return NULL;
  }
  eq_optimizer *o = calloc(1, sizeof *o);
  if (!o) {
    eq_error(EQ_ERR_MEMORY, "eq_optim_new: out of memory");
    return NULL;
  }
  o->cfg = *c;
  o->params = params;
  o->n_state = c->kind == EQ_OPTIM_ADAMW ? 2 : 1;
  for (int k = 0; k < o->n_state; k++) {
    o->state[k] = eq_calloc((size_t)(params->numel ? params->numel : 1), sizeof(float));
    if (!o->state[k]) {
      eq_optim_free(o);
      eq_error(EQ_ERR_MEMORY, "eq_optim_new: out of memory for %lld state values", (long long)params->numel);
      return NULL;
    }
  }
  return o;
}

void eq_optim_free(eq_optimizer *o) {
  if (!o) return;
  for (int k = 0; k < 2; k++) eq_free(o->state[k]);
  free(o);
}

static bool trained(const eq_param *p) { return !(p->flags & (EQ_PARAM_BUFFER | EQ_PARAM_FROZEN)); }

static bool decayed(const eq_optimizer *o, const eq_param *p) {
  return o->cfg.decay_all || !(p->flags & EQ_PARAM_NO_DECAY);
}

static void sgd_param(const eq_optim_config *c, float *restrict p, const float *restrict g, float *restrict b,
                      int64_t n, double lr, double wd, bool first) {
  const float m = (float)c->momentum, damp = (float)(1 - c->dampening), flr = (float)lr, fwd = (float)wd;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i] + fwd * p[i];
    float d = gi;
    if (m != 0) {
      b[i] = first ? gi : m * b[i] + damp * gi;
      d = c->nesterov ? gi + m * b[i] : b[i];
    }
    p[i] -= flr * d;
  }
}

static void adamw_param(const eq_optim_config *c, float *restrict p, const float *restrict g, float *restrict m1,
                        float *restrict m2, int64_t n, double lr, double wd, int64_t t) {
  const double bc1 = 1 - pow(c->beta1, (double)t), bc2 = 1 - pow(c->beta2, (double)t);
  const float b1 = (float)c->beta1, b2 = (float)c->beta2, decay = (float)(1 - lr * wd);
  const float step = (float)(lr / bc1), inv_sqrt_bc2 = (float)(1 / sqrt(bc2)), eps = (float)c->eps;
  for (int64_t i = 0; i < n; i++) {
    float gi = g[i];
    m1[i] = b1 * m1[i] + (1 - b1) * gi;
    m2[i] = b2 * m2[i] + (1 - b2) * gi * gi;
    p[i] = p[i] * decay - step * m1[i] / (sqrtf(m2[i]) * inv_sqrt_bc2 + eps);
  }
}

/* Sums of squares of x and of (g + wd x) over fixed chunks added in chunk
 * order: the same bits for any thread count (an OpenMP reduction's combine
 * order is unspecified). g may be NULL. */
#define NORM_CHUNK 16384
static void sum_squares(const float *x, const float *g, float wd, int64_t n, double *sx, double *sg) {
  int64_t chunks = (n + NORM_CHUNK - 1) / NORM_CHUNK;
  double local[2 * 64], *part = chunks <= 64 ? local : malloc((size_t)chunks * 2 * sizeof *part);
  if (!part) { /* out of memory: serial, still deterministic */
    chunks = 1;
    part = local;
  }
  int64_t per = chunks == 1 ? n : NORM_CHUNK;
#pragma omp parallel for schedule(static) if (chunks > 1)
  for (int64_t c = 0; c < chunks; c++) {
    double a = 0, b = 0;
    int64_t end = c + 1 == chunks ? n : (c + 1) * per;
    for (int64_t i = c * per; i < end; i++) {
      a += (double)x[i] * x[i];
      if (g) {
        float gi = g[i] + wd * x[i];
        b += (double)gi * gi;
      }
    }
    part[2 * c] = a;
    part[2 * c + 1] = b;
  }
  *sx = *sg = 0;
  for (int64_t c = 0; c < chunks; c++) {
    *sx += part[2 * c];
    *sg += part[2 * c + 1];
  }
  if (part != local) free(part);
}

static void lars_param(const eq_optim_config *c, float *restrict p, const float *restrict g, float *restrict b,
                       int64_t n, double lr, double wd, bool adapt) {
  double pn = 0, gn = 0;
  const float fwd = (float)wd;
  if (adapt) sum_squares(p, g, fwd, n, &pn, &gn);
  pn = sqrt(pn);
  gn = sqrt(gn);
  const float q = (float)(adapt && pn > 0 && gn > 0 ? c->trust_coefficient * pn / gn : 1.0);
  const float m = (float)c->momentum, flr = (float)lr;
#pragma omp parallel for schedule(static) if (n > 65536)
  for (int64_t i = 0; i < n; i++) {
    float gi = (g[i] + fwd * p[i]) * q;
    b[i] = m * b[i] + gi;
    p[i] -= flr * b[i];
  }
}

/* SGD and AdamW act element by element: one parallel region for the whole
 * step. A large parameter is split evenly over the threads, as the ops
 * that write its gradient split it (each thread finds its part in its own
 * cache: split as one flat buffer in halves, ViT-Tiny's step took 30 %
 * longer); the small ones (biases, norms) go whole to the threads in
 * turn, by their running count of elements. Per parameter, each small one
 * ran on one thread and each large one paid a fork and a join: ResNet-18's
 * 62 parameters took 3.4-3.5 ms a step, now 3.0-3.6 (ViT-Tiny's 0.8-1.4
 * either way). The results do not depend on the split. */
enum { SPLIT_ABOVE = 65536 };

static void elementwise_step(eq_optimizer *o, double lr) {
  const eq_params *P = o->params;
  int64_t small_total = 0;
  for (int i = 0; i < P->count; i++)
    if (trained(&P->items[i]) && P->items[i].numel <= SPLIT_ABOVE) small_total += P->items[i].numel;
#pragma omp parallel if (P->numel > SPLIT_ABOVE)
  {
    int threads = omp_get_num_threads(), t = omp_get_thread_num();
    int64_t small_seen = 0;
    for (int i = 0; i < P->count; i++) {
      const eq_param *pp = &P->items[i];
      if (!trained(pp)) continue;
      int64_t a = 0, e = pp->numel;
      if (pp->numel > SPLIT_ABOVE) {
        a = pp->numel * t / threads, e = pp->numel * (t + 1) / threads;
      } else {
        int owner = (int)(small_seen * threads / (small_total ? small_total : 1));
        small_seen += pp->numel;
        if (owner != t) continue;
      }
      double wd = decayed(o, pp) ? o->cfg.weight_decay : 0;
      float *p = P->data + pp->offset + a, *g = P->grad + pp->offset + a, *s0 = o->state[0] + pp->offset + a;
      if (o->cfg.kind == EQ_OPTIM_SGD)
        sgd_param(&o->cfg, p, g, s0, e - a, lr, wd, o->step == 1);
      else
        adamw_param(&o->cfg, p, g, s0, o->state[1] + pp->offset + a, e - a, lr, wd, o->step);
    }
  }
}

eq_status eq_optim_step(eq_optimizer *o, double lr) {
  if (!isfinite(lr) || lr < 0) return eq_error(EQ_ERR_VALUE, "eq_optim_step: learning rate %g", lr);
  eq_params *P = o->params;
  o->step++;
  if (o->cfg.kind != EQ_OPTIM_LARS) {
    elementwise_step(o, lr);
    return EQ_OK;
  }
  for (int i = 0; i < P->count; i++) {
    const eq_param *pp = &P->items[i];
    if (!trained(pp)) continue;
    bool decay = decayed(o, pp);
    lars_param(&o->cfg, P->data + pp->offset, P->grad + pp->offset, o->state[0] + pp->offset, pp->numel, lr,
               decay ? o->cfg.weight_decay : 0, decay);
  }
  return EQ_OK;
}

double eq_lr_cosine(int64_t step, int64_t total, int64_t warmup, double base_lr, double final_lr) {
  if (step < 0) step = 0;
  if (warmup > 0 && step < warmup) return base_lr * (double)(step + 1) / (double)warmup;
  int64_t span = total - 1 - warmup;
  if (span <= 0) return base_lr; /* no room for a decay after the warm-up */
  double t = (double)(step - warmup) / (double)span;
  if (t > 1) t = 1;
  return final_lr + 0.5 * (base_lr - final_lr) * (1 + cos(M_PI * t));
}

double eq_grad_norm(const eq_params *P) {
  double s, unused;
  sum_squares(P->grad, NULL, 0, P->numel, &s, &unused);
  return sqrt(s);
}

double eq_clip_grad_norm(eq_params *P, double max_norm) {
  double norm = eq_grad_norm(P);
  if (isfinite(norm) && max_norm > 0 && norm > max_norm) {
    float scale = (float)(max_norm / (norm + 1e-6));
    float *g = P->grad;
#pragma omp parallel for schedule(static) if (P->numel > 65536)
    for (int64_t i = 0; i < P->numel; i++) g[i] *= scale;
  }
  return norm;
}
