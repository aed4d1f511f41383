/* Layers: registration of their parameters and their forward passes. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "equivar/nn.h"

static const eq_init kaiming_default = {EQ_INIT_KAIMING_UNIFORM_DEFAULT, 0, 0};

eq_status eq_nn_linear_init(eq_nn_linear *m, eq_params *P, const char *prefix, int in, int out, bool bias) {
  memset(m, 0, sizeof *m);
  if (in <= 0 || out <= 0) return eq_error(EQ_ERR_VALUE, "linear '%s': sizes in=%d out=%d must be positive", prefix, in, out);
  m->in = in;
  m->out = out;
  eq_status st = eq_params_add(P, &m->weight, prefix, "weight", 2, (int64_t[]){out, in}, 0, kaiming_default);
  if (!st && bias)
    st = eq_params_add(P, &m->bias, prefix, "bias", 1, (int64_t[]){out}, EQ_PARAM_NO_DECAY,
                       (eq_init){EQ_INIT_FAN_IN_UNIFORM, in, 0});
  return st;
}

eq_tensor *eq_nn_linear_forward(const eq_nn_linear *m, eq_tensor *x) { return eq_linear(x, m->weight, m->bias); }

eq_status eq_nn_conv2d_init(eq_nn_conv2d *m, eq_params *P, const char *prefix, int in, int out, int kernel, int stride,
                            int padding, int groups, bool bias) {
  memset(m, 0, sizeof *m);
  if (groups <= 0) groups = 1;
  if (in <= 0 || out <= 0 || kernel <= 0 || stride <= 0 || padding < 0 || in % groups || out % groups)
    return eq_error(EQ_ERR_VALUE, "conv2d '%s': invalid in=%d out=%d kernel=%d stride=%d padding=%d groups=%d", prefix, in,
                    out, kernel, stride, padding, groups);
  m->in = in;
  m->out = out;
  m->kernel = kernel;
  m->p.stride[0] = m->p.stride[1] = stride;
  m->p.padding[0] = m->p.padding[1] = padding;
  m->p.dilation[0] = m->p.dilation[1] = 1;
  m->p.groups = groups;
  eq_status st =
      eq_params_add(P, &m->weight, prefix, "weight", 4, (int64_t[]){out, in / groups, kernel, kernel}, 0, kaiming_default);
  if (!st && bias)
    st = eq_params_add(P, &m->bias, prefix, "bias", 1, (int64_t[]){out}, EQ_PARAM_NO_DECAY,
                       (eq_init){EQ_INIT_FAN_IN_UNIFORM, (double)(in / groups) * kernel * kernel, 0});
  return st;
}

eq_tensor *eq_nn_conv2d_forward(const eq_nn_conv2d *m, eq_tensor *x) { return eq_conv2d(x, m->weight, m->bias, &m->p); }

eq_status eq_nn_batchnorm_init(eq_nn_batchnorm *m, eq_params *P, const char *prefix, int channels) {
  memset(m, 0, sizeof *m);
  if (channels <= 0) return eq_error(EQ_ERR_VALUE, "batchnorm '%s': %d channels", prefix, channels);
  m->channels = channels;
  m->momentum = 0.1;
  m->eps = 1e-5;
  int64_t c = channels;
  eq_status st = eq_params_add(P, &m->weight, prefix, "weight", 1, &c, EQ_PARAM_NO_DECAY, (eq_init){EQ_INIT_CONST, 1, 0});
  if (!st) st = eq_params_add(P, &m->bias, prefix, "bias", 1, &c, EQ_PARAM_NO_DECAY, (eq_init){EQ_INIT_CONST, 0, 0});
  if (!st) st = eq_params_add_buffer(P, &m->running_mean, prefix, "running_mean", EQ_F32, 1, &c, 0);
  if (!st) st = eq_params_add_buffer(P, &m->running_var, prefix, "running_var", EQ_F32, 1, &c, 1);
  if (!st) st = eq_params_add_buffer(P, &m->num_batches_tracked, prefix, "num_batches_tracked", EQ_I64, 0, NULL, 0);
  return st;
}

/* A forward in training mode counts one batch, as PyTorch's. */
static eq_tensor *count_batch(eq_nn_batchnorm *m, eq_tensor *y, bool training) {
  if (y && training) {
    int64_t *count = eq_data_ptr(m->num_batches_tracked);
    (*count)++;
  }
  return y;
}

eq_tensor *eq_nn_batchnorm_forward(eq_nn_batchnorm *m, eq_tensor *x, bool training) {
  return count_batch(
      m, eq_batch_norm(x, m->weight, m->bias, m->running_mean, m->running_var, training, m->momentum, m->eps), training);
}

eq_tensor *eq_nn_batchnorm_relu_forward(eq_nn_batchnorm *m, eq_tensor *x, bool training, eq_tensor *residual) {
  return count_batch(m,
                     eq_batch_norm_relu(x, m->weight, m->bias, m->running_mean, m->running_var, training, m->momentum,
                                        m->eps, residual),
                     training);
}

eq_status eq_nn_layernorm_init(eq_nn_layernorm *m, eq_params *P, const char *prefix, int dim, double eps) {
  memset(m, 0, sizeof *m);
  if (dim <= 0) return eq_error(EQ_ERR_VALUE, "layernorm '%s': dim %d", prefix, dim);
  m->dim = dim;
  m->eps = eps;
  int64_t d = dim;
  eq_status st = eq_params_add(P, &m->weight, prefix, "weight", 1, &d, EQ_PARAM_NO_DECAY, (eq_init){EQ_INIT_CONST, 1, 0});
  if (!st) st = eq_params_add(P, &m->bias, prefix, "bias", 1, &d, EQ_PARAM_NO_DECAY, (eq_init){EQ_INIT_CONST, 0, 0});
  return st;
}

eq_tensor *eq_nn_layernorm_forward(const eq_nn_layernorm *m, eq_tensor *x) {
  return eq_layer_norm(x, m->weight, m->bias, m->eps);
}

eq_tensor *eq_nn_activation(eq_activation act, eq_tensor *x) {
  switch (act) {
    case EQ_ACT_RELU: return eq_relu(x);
    case EQ_ACT_GELU: return eq_gelu(x, false);
    case EQ_ACT_NONE: break;
  }
  return x;
}

eq_status eq_nn_mlp_init(eq_nn_mlp *m, eq_params *P, const char *prefix, int n_layers, const int *dims, bool batchnorm,
                         eq_activation act, bool last_bias) {
  memset(m, 0, sizeof *m);
  if (n_layers < 1 || n_layers > EQ_MLP_MAX_LAYERS)
    return eq_error(EQ_ERR_VALUE, "mlp '%s': %d layers (1..%d)", prefix, n_layers, EQ_MLP_MAX_LAYERS);
  m->n_layers = n_layers;
  m->batchnorm = batchnorm;
  m->act = act;
  m->last_bias = last_bias;
  /* Sequential indices: Linear, [BatchNorm1d,] activation per hidden layer. */
  int per_hidden = batchnorm ? 3 : 2, index = 0;
  for (int l = 0; l < n_layers; l++) {
    char name[256], sub[16];
    bool last = l == n_layers - 1;
    snprintf(sub, sizeof sub, "%d", index);
    eq_status st = eq_nn_linear_init(&m->linear[l], P, eq_nn_join(name, sizeof name, prefix, sub), dims[l], dims[l + 1],
                                      last ? last_bias : true);
    if (st) return st;
    if (!last && batchnorm) {
      snprintf(sub, sizeof sub, "%d", index + 1);
      st = eq_nn_batchnorm_init(&m->bn[l], P, eq_nn_join(name, sizeof name, prefix, sub), dims[l + 1]);
      if (st) return st;
    }
    index += per_hidden;
  }
  return EQ_OK;
}

eq_tensor *eq_nn_mlp_forward(eq_nn_mlp *m, eq_tensor *x, bool training) {
  for (int l = 0; l < m->n_layers && x; l++) {
    x = eq_nn_linear_forward(&m->linear[l], x);
    if (l == m->n_layers - 1 || !x) break;
    if (m->batchnorm) x = eq_nn_batchnorm_forward(&m->bn[l], x, training);
    if (x) x = eq_nn_activation(m->act, x);
  }
  return x;
}
