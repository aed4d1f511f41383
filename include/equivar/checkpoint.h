/* Checkpoints and weight files (safetensors, written atomically).
 *
 * Weights file: every parameter and buffer of an eq_params under its
 * torchvision / timm name (nn.h), so torchvision's resnet18().load_state_dict
 * (or timm's VisionTransformer) accepts it with strict=True.
 *
 * Checkpoint: the weights, plus the optimiser state as tensors named
 *   optim.<state>.<parameter name>
 * (<state>: momentum_buffer for SGD/LARS, exp_avg and exp_avg_sq for AdamW,
 * PyTorch's names), plus string metadata:
 *   equivar.format     "checkpoint-1"
 *   equivar.step       training steps completed (decimal)
 *   equivar.model      model name ("resnet18-small")
 *   equivar.optimizer  "sgd" | "adamw" | "lars" (absent without optimiser)
 *   equivar.optimizer_step  the optimiser's own step counter
 *   equivar.config     free-form JSON describing the run (optional)
 * A checkpoint loads into PyTorch after dropping the "optim." keys.
 *
 * Loading checks everything before changing anything: a missing tensor, an
 * extra one, a shape or dtype mismatch, a truncated or corrupt file gives an
 * error naming the file and the tensor, and leaves the model and optimiser
 * as they were.
 */
#ifndef EQUIVAR_CHECKPOINT_H
#define EQUIVAR_CHECKPOINT_H

#include "equivar/nn.h"
#include "equivar/optim.h"
#include "equivar/safetensors.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQ_OPTIM_PREFIX "optim."

eq_status eq_save_weights(const char *path, const eq_params *P);
/* strict: tensors in the file that P does not have are an error (else
 * ignored); optimiser state ("optim." names) of a checkpoint is always
 * ignored, so a checkpoint also serves as a weights file. */
eq_status eq_load_weights(const char *path, eq_params *P, bool strict);

typedef struct eq_checkpoint_info {
  int64_t step;
  char model[64];
  char config[2048]; /* JSON, may be empty */
} eq_checkpoint_info;

/* o may be NULL (weights and metadata only). */
eq_status eq_checkpoint_save(const char *path, const eq_params *P, const eq_optimizer *o, const eq_checkpoint_info *info);
/* Restores weights, optimiser state (when o is not NULL: the file must hold
 * state for o's kind; when NULL, any optimiser state is ignored) and fills
 * *info (may be NULL). Other extra tensors are errors. */
eq_status eq_checkpoint_load(const char *path, eq_params *P, eq_optimizer *o, eq_checkpoint_info *info);
/* Reads only the metadata (to pick the model before building it). */
eq_status eq_checkpoint_peek(const char *path, eq_checkpoint_info *info);

#ifdef __cplusplus
}
#endif
#endif
