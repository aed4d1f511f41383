/* The communication layer: every byte the dnd layer moves between ranks goes
 * through these functions. MPI is initialised lazily; one-rank communicators
 * never call MPI (so a program without a launcher, or where MPI_Init fails,
 * still runs); messages are chunked below the int count limit. */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "dnd/dnd_internal.h"

static eq_comm g_world, g_self = {MPI_COMM_NULL, 0, 1, false};
static bool g_world_ready, g_mpi_active, g_we_initialised;
static int64_t g_max_message = (int64_t)1 << 30;
static const eq_comm_device_backend *g_device_backends[EQ_DEVICE_COUNT];

static void finalize_at_exit(void) {
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) MPI_Finalize();
}

const eq_comm *eq_comm_world(void) {
  if (g_world_ready) return &g_world;
  g_world = g_self;
  const char *no = getenv("EQ_NO_MPI");
  if (!(no && no[0] == '1')) {
    int inited = 0;
    MPI_Initialized(&inited);
    if (!inited) {
      int provided = 0;
      /* Errors must come back as codes, not abort, so a failed init can fall
       * back to one rank. */
      if (MPI_Init_thread(NULL, NULL, MPI_THREAD_FUNNELED, &provided) == MPI_SUCCESS) {
        inited = 1;
        g_we_initialised = true;
        atexit(finalize_at_exit);
      }
    }
    if (inited) {
      MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
      g_world.mpi = MPI_COMM_WORLD;
      MPI_Comm_rank(MPI_COMM_WORLD, &g_world.rank);
      MPI_Comm_size(MPI_COMM_WORLD, &g_world.size);
      g_mpi_active = true;
    }
  }
  g_world_ready = true;
  return &g_world;
}

const eq_comm *eq_comm_self(void) { return &g_self; }

bool eq_comm_mpi_active(void) {
  eq_comm_world();
  return g_mpi_active;
}

eq_comm *eq_comm_from_mpi(MPI_Comm comm) {
  eq_comm_world();
  eq_comm *c = calloc(1, sizeof *c);
  if (!c) {
    eq_error(EQ_ERR_MEMORY, "eq_comm_from_mpi: out of memory");
    return NULL;
  }
  if (!g_mpi_active || MPI_Comm_dup(comm, &c->mpi) != MPI_SUCCESS) {
    free(c);
    eq_error(EQ_ERR_MPI, "eq_comm_from_mpi: MPI is not active or MPI_Comm_dup failed");
    return NULL;
  }
  MPI_Comm_set_errhandler(c->mpi, MPI_ERRORS_RETURN);
  MPI_Comm_rank(c->mpi, &c->rank);
  MPI_Comm_size(c->mpi, &c->size);
  c->owned = true;
  return c;
}

void eq_comm_free(eq_comm *c) {
  if (!c || c == &g_world || c == &g_self) return;
  if (c->owned && c->mpi != MPI_COMM_NULL) MPI_Comm_free(&c->mpi);
  free(c);
}

int64_t eq_comm_set_max_message(int64_t bytes) {
  int64_t old = g_max_message;
  if (bytes > 0) g_max_message = bytes;
  return old;
}

void eq_comm_register_device_backend(eq_device_type type, const eq_comm_device_backend *b) {
  if ((unsigned)type < EQ_DEVICE_COUNT) g_device_backends[type] = b;
}

const eq_comm_device_backend *eq_comm_device_backend_get(eq_device_type type) {
  return (unsigned)type < EQ_DEVICE_COUNT ? g_device_backends[type] : NULL;
}

MPI_Datatype eq_comm_mpi_type(eq_dtype d) {
  switch (d) {
  case EQ_F32: return MPI_FLOAT;
  case EQ_F64: return MPI_DOUBLE;
  case EQ_I32: return MPI_INT32_T;
  case EQ_I64: return MPI_INT64_T;
  case EQ_U8:
  case EQ_BOOL: return MPI_UINT8_T;
  default: return MPI_UINT16_T;
  }
}

static MPI_Op mpi_op(eq_reduce_op op) {
  switch (op) {
  case EQ_REDUCE_SUM: return MPI_SUM;
  case EQ_REDUCE_PROD: return MPI_PROD;
  case EQ_REDUCE_MIN: return MPI_MIN;
  case EQ_REDUCE_MAX: return MPI_MAX;
  case EQ_REDUCE_LAND: return MPI_LAND;
  default: return MPI_LOR;
  }
}

/* Elements per MPI call: below INT_MAX and the configured byte limit. */
int64_t eq_comm_chunk_elems(size_t elem_size) {
  int64_t n = g_max_message / (int64_t)elem_size;
  if (n > INT_MAX) n = INT_MAX;
  return n < 1 ? 1 : n;
}

eq_status eq_comm_check(int rc, const char *what) {
  if (rc == MPI_SUCCESS) return EQ_OK;
  char msg[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, msg, &len);
  return eq_error(EQ_ERR_MPI, "%s failed: %s", what, msg);
}

eq_status eq_comm_barrier(const eq_comm *c) {
  if (c->size == 1) return EQ_OK;
  return eq_comm_check(MPI_Barrier(c->mpi), "MPI_Barrier");
}

eq_status eq_comm_allreduce(const eq_comm *c, void *buf, int64_t count, eq_dtype dtype, eq_reduce_op op) {
  if (c->size == 1 || count == 0) return EQ_OK;
  size_t es = eq_dtype_size(dtype);
  int64_t chunk = eq_comm_chunk_elems(es);
  for (int64_t at = 0; at < count; at += chunk) {
    int n = (int)(count - at < chunk ? count - at : chunk);
    eq_status st = eq_comm_check(
        MPI_Allreduce(MPI_IN_PLACE, (char *)buf + at * es, n, eq_comm_mpi_type(dtype), mpi_op(op), c->mpi),
        "MPI_Allreduce");
    if (st) return st;
  }
  return EQ_OK;
}

eq_status eq_comm_reduce(const eq_comm *c, const void *send, void *recv, int64_t count, eq_dtype dtype,
                         eq_reduce_op op, int root) {
  size_t es = eq_dtype_size(dtype);
  if (c->size == 1) {
    if (recv != send && count) memmove(recv, send, (size_t)count * es);
    return EQ_OK;
  }
  int64_t chunk = eq_comm_chunk_elems(es);
  for (int64_t at = 0; at < count; at += chunk) {
    int n = (int)(count - at < chunk ? count - at : chunk);
    eq_status st = eq_comm_check(MPI_Reduce((const char *)send + at * es, recv ? (char *)recv + at * es : NULL, n,
                                            eq_comm_mpi_type(dtype), mpi_op(op), root, c->mpi),
                                 "MPI_Reduce");
    if (st) return st;
  }
  return EQ_OK;
}

eq_status eq_comm_bcast(const eq_comm *c, void *buf, int64_t count, eq_dtype dtype, int root) {
  if (c->size == 1 || count == 0) return EQ_OK;
  size_t es = eq_dtype_size(dtype);
  int64_t chunk = eq_comm_chunk_elems(es);
  for (int64_t at = 0; at < count; at += chunk) {
    int n = (int)(count - at < chunk ? count - at : chunk);
    eq_status st =
        eq_comm_check(MPI_Bcast((char *)buf + at * es, n, eq_comm_mpi_type(dtype), root, c->mpi), "MPI_Bcast");
    if (st) return st;
  }
  return EQ_OK;
}

eq_status eq_comm_exscan(const eq_comm *c, const void *in, void *out, int64_t count, eq_dtype dtype,
                         eq_reduce_op op) {
  size_t es = eq_dtype_size(dtype);
  if (op != EQ_REDUCE_SUM && op != EQ_REDUCE_PROD)
    return eq_error(EQ_ERR_VALUE, "eq_comm_exscan: only SUM and PROD have an identity");
  if (c->rank == 0 || c->size == 1) {
    /* MPI leaves rank 0's result undefined: the identity. */
    for (int64_t i = 0; i < count; i++) eq_store_from_double((char *)out + i * es, dtype, op == EQ_REDUCE_SUM ? 0 : 1);
  }
  if (c->size == 1) return EQ_OK;
  int64_t chunk = eq_comm_chunk_elems(es);
  for (int64_t at = 0; at < count; at += chunk) {
    int n = (int)(count - at < chunk ? count - at : chunk);
    /* Rank 0 receives into scratch so its identity survives. */
    void *dst = (char *)out + at * es;
    void *scratch = NULL;
    if (c->rank == 0) {
      scratch = malloc((size_t)n * es);
      if (!scratch) return eq_error(EQ_ERR_MEMORY, "eq_comm_exscan: out of memory");
      dst = scratch;
    }
    eq_status st = eq_comm_check(
        MPI_Exscan((const char *)in + at * es, dst, n, eq_comm_mpi_type(dtype), mpi_op(op), c->mpi), "MPI_Exscan");
    free(scratch);
    if (st) return st;
  }
  return EQ_OK;
}

static bool fits_int(const int64_t *v, int n, int64_t limit) {
  for (int i = 0; i < n; i++)
    if (v[i] > limit) return false;
  return true;
}

eq_status eq_comm_allgatherv(const eq_comm *c, const void *send, void *recv, const int64_t *counts,
                             const int64_t *displs, eq_dtype dtype) {
  size_t es = eq_dtype_size(dtype);
  if (c->size == 1) {
    if (counts[0]) memmove((char *)recv + displs[0] * es, send, (size_t)counts[0] * es);
    return EQ_OK;
  }
  int P = c->size;
  int64_t chunk = eq_comm_chunk_elems(es);
  if (fits_int(counts, P, chunk) && fits_int(displs, P, INT_MAX)) {
    int *ic = malloc(2 * sizeof(int) * (size_t)P);
    if (!ic) return eq_error(EQ_ERR_MEMORY, "eq_comm_allgatherv: out of memory");
    for (int r = 0; r < P; r++) {
      ic[r] = (int)counts[r];
      ic[P + r] = (int)displs[r];
    }
    /* Passing our own block in place avoids a self-copy when it is there. */
    const void *sb = send;
    int rc = MPI_Allgatherv(sb, ic[c->rank], eq_comm_mpi_type(dtype), recv, ic, ic + P, eq_comm_mpi_type(dtype),
                            c->mpi);
    free(ic);
    return eq_comm_check(rc, "MPI_Allgatherv");
  }
  /* Large: every rank broadcasts its block in chunks. */
  if (counts[c->rank]) memmove((char *)recv + displs[c->rank] * es, send, (size_t)counts[c->rank] * es);
  for (int r = 0; r < P; r++) {
    eq_status st = eq_comm_bcast(c, (char *)recv + displs[r] * es, counts[r], dtype, r);
    if (st) return st;
  }
  return EQ_OK;
}

eq_status eq_comm_allgather(const eq_comm *c, const void *send, void *recv, int64_t count, eq_dtype dtype) {
  int P = c->size;
  int64_t stack_buf[2 * 16] = {0};
  int64_t *cd = P <= 16 ? stack_buf : malloc(2 * sizeof(int64_t) * (size_t)P);
  if (!cd) return eq_error(EQ_ERR_MEMORY, "eq_comm_allgather: out of memory");
  for (int r = 0; r < P; r++) {
    cd[r] = count;
    cd[P + r] = count * r;
  }
  eq_status st = eq_comm_allgatherv(c, send, recv, cd, cd + P, dtype);
  if (cd != stack_buf) free(cd);
  return st;
}

eq_status eq_comm_sendrecv(const eq_comm *c, const void *send, int64_t send_count, int dest, void *recv,
                           int64_t recv_count, int source, eq_dtype dtype) {
  size_t es = eq_dtype_size(dtype);
  if (c->size == 1 || (dest == c->rank && source == c->rank)) {
    if (send_count) memmove(recv, send, (size_t)send_count * es);
    return EQ_OK;
  }
  /* Each direction in its own chunk sequence (the two partners of this rank
   * may need different chunk counts), all posted non-blocking. */
  int64_t chunk = eq_comm_chunk_elems(es);
  int64_t ns = (send_count + chunk - 1) / chunk, nr = (recv_count + chunk - 1) / chunk;
  MPI_Request *req = malloc(sizeof(MPI_Request) * (size_t)(ns + nr + 1));
  if (!req) return eq_error(EQ_ERR_MEMORY, "eq_comm_sendrecv: out of memory");
  MPI_Datatype t = eq_comm_mpi_type(dtype);
  int nreq = 0, rc = MPI_SUCCESS;
  for (int64_t k = 0; k < nr && rc == MPI_SUCCESS; k++) {
    int64_t at = k * chunk, n = recv_count - at < chunk ? recv_count - at : chunk;
    rc = MPI_Irecv((char *)recv + at * es, (int)n, t, source, 777, c->mpi, &req[nreq++]);
  }
  for (int64_t k = 0; k < ns && rc == MPI_SUCCESS; k++) {
    int64_t at = k * chunk, n = send_count - at < chunk ? send_count - at : chunk;
    rc = MPI_Isend((const char *)send + at * es, (int)n, t, dest, 777, c->mpi, &req[nreq++]);
  }
  if (rc == MPI_SUCCESS) rc = MPI_Waitall(nreq, req, MPI_STATUSES_IGNORE);
  free(req);
  return eq_comm_check(rc, "eq_comm_sendrecv (MPI_Isend/Irecv)");
}

eq_status eq_comm_alltoallv(const eq_comm *c, const void *send, const int64_t *send_counts,
                            const int64_t *send_displs, void *recv, const int64_t *recv_counts,
                            const int64_t *recv_displs, eq_dtype dtype) {
  size_t es = eq_dtype_size(dtype);
  int P = c->size, me = c->rank;
  if (P == 1) {
    if (send_counts[0]) memmove((char *)recv + recv_displs[0] * es, (const char *)send + send_displs[0] * es,
                                (size_t)send_counts[0] * es);
    return EQ_OK;
  }
  int64_t chunk = eq_comm_chunk_elems(es);
  if (fits_int(send_counts, P, chunk) && fits_int(recv_counts, P, chunk) && fits_int(send_displs, P, INT_MAX) &&
      fits_int(recv_displs, P, INT_MAX)) {
    int *v = malloc(4 * sizeof(int) * (size_t)P);
    if (!v) return eq_error(EQ_ERR_MEMORY, "eq_comm_alltoallv: out of memory");
    for (int r = 0; r < P; r++) {
      v[r] = (int)send_counts[r];
      v[P + r] = (int)send_displs[r];
      v[2 * P + r] = (int)recv_counts[r];
      v[3 * P + r] = (int)recv_displs[r];
    }
    MPI_Datatype t = eq_comm_mpi_type(dtype);
    int rc = MPI_Alltoallv(send, v, v + P, t, recv, v + 2 * P, v + 3 * P, t, c->mpi);
    free(v);
    return eq_comm_check(rc, "MPI_Alltoallv");
  }
  /* Large: P - 1 pairwise rounds, each chunked. */
  if (send_counts[me])
    memmove((char *)recv + recv_displs[me] * es, (const char *)send + send_displs[me] * es,
            (size_t)send_counts[me] * es);
  for (int k = 1; k < P; k++) {
    int dst = (me + k) % P, src = (me - k + P) % P;
    eq_status st = eq_comm_sendrecv(c, (const char *)send + send_displs[dst] * es, send_counts[dst], dst,
                                    (char *)recv + recv_displs[src] * es, recv_counts[src], src, dtype);
    if (st) return st;
  }
  return EQ_OK;
}
