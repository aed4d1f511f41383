/* Data sets: random access to (image, label[, latent]) samples of the formats
 * users bring (ImageFolder, CIFAR-10/100 binary, STL-10 binary, MNIST /
 * Fashion-MNIST IDX, 3DIEBench) and of equivar's own natural-image patch
 * set. Every data set is opened once and then read concurrently: get() is
 * thread-safe (binary formats read their records with pread).
 *
 * Images come back as 8-bit eq_image (HWC), 1 channel for MNIST-like data,
 * 3 for the rest. Labels are class indices 0..num_classes-1, or -1 where
 * the split is unlabelled (STL-10 "unlabeled"). */
#ifndef EQUIVAR_DATASETS_H
#define EQUIVAR_DATASETS_H

#include <stddef.h>
#include <stdint.h>

#include "equivar/core.h"
#include "equivar/image.h"
#include "equivar/json.h"

#ifdef __cplusplus
extern "C" {
#endif

#define EQ_MAX_LATENT 16

typedef struct eq_sample {
  eq_image image;
  int32_t label;
  int latent_dim;               /* 0 when the data set has none */
  float latent[EQ_MAX_LATENT];  /* 3DIEBench: rot x, y, z, floor hue, light theta, phi, light hue */
} eq_sample;

void eq_sample_free(eq_sample *s);

typedef struct eq_dataset eq_dataset;

/* ImageFolder: root/<class>/<file>.{jpg,jpeg,png} (any case), classes are
 * the sub-folders in sorted (byte) order, files sorted within each. Images
 * are decoded on get() to `channels` (1 or 3). */
eq_dataset *eq_dataset_open_image_folder(const char *root, int channels);
/* CIFAR binary: root holds data_batch_1..5.bin + test_batch.bin (CIFAR-10:
 * records of 1 label byte + 3072 pixel bytes, R, G, B planes of 32x32) or
 * train.bin + test.bin (CIFAR-100: coarse label, fine label, 3072 bytes).
 * split "train" or "test"; CIFAR-100 uses the fine labels (100 classes)
 * unless coarse is set (20). */
eq_dataset *eq_dataset_open_cifar(const char *root, const char *split, int coarse);
/* STL-10 binary: root holds {train,test}_X.bin, {train,test}_y.bin,
 * unlabeled_X.bin; 96x96x3 images stored channel-major, column-major;
 * labels 1..10 on disk become 0..9. split "train", "test", "unlabeled"
 * (labels -1) or "train+unlabeled". */
eq_dataset *eq_dataset_open_stl10(const char *root, const char *split);
/* IDX (MNIST, Fashion-MNIST): an images file (magic 0x803, uint8 N x H x W)
 * and a labels file (0x801, uint8 N), each raw or gzip'd. */
eq_dataset *eq_dataset_open_idx(const char *images_path, const char *labels_path);
/* The four standard names under root: {train,t10k}-{images-idx3,labels-idx1}-ubyte[.gz]. */
eq_dataset *eq_dataset_open_mnist(const char *root, const char *split);
/* 3DIEBench: root/<synset>/<object_id>/image_<i>.jpg (or .png) with
 * latent_<i>.npy (7 floats) beside each. `index` is a .npy of object paths
 * (strings "/<synset>/<object_id>" or without the leading slash; e.g.
 * train_images.npy); NULL lists every object folder under root in sorted
 * order. Labels are the positions of the synset ids in the sorted list of
 * root's sub-folders. views is the renders per object (0: count those of
 * the first object). Items are objects (size = number of objects); each
 * has `views` renders, read with eq_dataset_get(ds, object, view). */
eq_dataset *eq_dataset_open_3diebench(const char *root, const char *index, int views, int channels);
/* Natural-image patches: every JPEG/PNG under photo_dir (recursively,
 * sorted), decoded once; per photo and per scale s in scales (side of the
 * square crop as a fraction of the photo's shorter side), per_scale crops
 * at positions drawn from Philox(seed, photo, scale), resized (antialiased
 * bilinear) to patch x patch and kept in memory. Unlabelled (-1).
 * Deterministic: same inputs, same patches, for any thread count. */
eq_dataset *eq_dataset_open_patches(const char *photo_dir, int patch, const float *scales, int n_scales,
                                    int per_scale, uint64_t seed);
/* In-memory images (takes ownership of images[] and labels[]). */
eq_dataset *eq_dataset_from_images(const char *name, eq_image *images, int32_t *labels, size_t n, int num_classes);

/* From a JSON object: {"type": "imagefolder" | "cifar10" | "cifar100" |
 * "stl10" | "mnist" | "fashion-mnist" | "idx" | "3diebench" | "patches",
 * "root": path, "split": ..., plus per type: "channels", "coarse",
 * "images"/"labels" (idx), "index", "views" (3diebench), "patch",
 * "scales", "per_scale", "seed" (patches)}. */
eq_dataset *eq_dataset_open_json(const eq_json *cfg);
/* From a command-line spec "type:root[:split]", e.g. "cifar10:/data/cifar:test",
 * "3diebench:/data/3DIEBench:/data/3DIEBench/train_images.npy". */
eq_dataset *eq_dataset_open_spec(const char *spec);

void eq_dataset_free(eq_dataset *ds);
size_t eq_dataset_size(const eq_dataset *ds);
int eq_dataset_num_classes(const eq_dataset *ds); /* 0 when unlabelled */
/* Renders per item (3DIEBench objects); 1 for the other formats. */
int eq_dataset_views(const eq_dataset *ds);
const char *eq_dataset_name(const eq_dataset *ds);
/* Class name (folder / synset id), or NULL where the format has none. */
const char *eq_dataset_class_name(const eq_dataset *ds, int k);
/* Reads item `index`, view `view` (0 unless views > 1). Errors name the
 * file and the offending record. */
eq_status eq_dataset_get(const eq_dataset *ds, size_t index, int view, eq_sample *out);

/* ------------------------------------------------------------- IDX parser */

typedef struct eq_idx {
  int type;      /* IDX element type code (0x08 = uint8) */
  int ndim;
  int64_t dims[4];
  uint8_t *data; /* malloc'd payload, prod(dims) bytes */
} eq_idx;

/* Parses an IDX file (raw or gzip) held in memory; errors name `name`. */
eq_status eq_idx_decode(const void *bytes, size_t n, const char *name, eq_idx *out);
eq_status eq_idx_read(const char *path, eq_idx *out);
void eq_idx_free(eq_idx *idx);

#ifdef __cplusplus
}
#endif
#endif
