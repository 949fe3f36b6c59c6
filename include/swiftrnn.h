/*
 * swiftrnn.h -- libswiftrnn, an embeddable LSTM/GRU/RNN runtime.
 *
 * libswiftrnn runs the two recurrent models of ch. 15 of Raschka et al., "Machine Learning with
 * PyTorch and Scikit-Learn" -- a review sentiment classifier and a character language model --
 * from safetensors files whose tensor names are PyTorch state_dict names (docs/model-format.md).
 *
 * Usage:
 *
 *     swiftrnn_model *m = NULL;
 *     if (swiftrnn_model_load("models/sentiment-imdb.safetensors", &m) != SWIFTRNN_OK) {
 *         fprintf(stderr, "%s\n", swiftrnn_last_error());
 *         return 1;
 *     }
 *     float p;
 *     const char *review = "A wonderful, moving film.";
 *     if (swiftrnn_score_sentiment(m, review, strlen(review), &p) == SWIFTRNN_OK)
 *         printf("%.4f\n", p);
 *     swiftrnn_model_free(m);
 *
 * Conventions, for every function:
 *   - Functions that can fail return a swiftrnn_status. On failure a message is kept for the
 *     calling thread (swiftrnn_last_error) and out-parameters are left as documented (a failed
 *     load leaves *out_model NULL).
 *   - Any pointer argument may be NULL: the call then fails with SWIFTRNN_ERR_INVALID_ARGUMENT
 *     (free functions accept NULL as a no-op). Nothing in this library aborts the host process.
 *   - Text is UTF-8 given as pointer + length in bytes; it need not be NUL-terminated and may
 *     contain NUL bytes. Invalid UTF-8 sequences are replaced by U+FFFD (as Python's
 *     errors="replace"), never rejected.
 *   - Functions that fill a caller's buffer report the bytes (or items) needed when it is too
 *     small, return SWIFTRNN_ERR_BUFFER_TOO_SMALL, and write nothing else.
 *   - A size_t length, count or capacity above SIZE_MAX / 2 (what `n - 1` gives at n = 0) is
 *     SWIFTRNN_ERR_INVALID_ARGUMENT: no real buffer is that large.
 *   - Results are finite: a probability is in [0, 1], nats are >= 0. When a model's weights
 *     overflow Float on some input the call returns SWIFTRNN_ERR_NON_FINITE instead.
 *
 * Thread safety: a swiftrnn_model is immutable after load; any number of threads may use one
 * model at once. A swiftrnn_generator belongs to one thread at a time. swiftrnn_last_error is
 * per thread. Every call runs on 64 KiB of the calling thread's stack (the model reader nests
 * at most 64 levels); batch and two-thread generation start their own threads and join them
 * before returning.
 *
 * Portability: one build runs on any x86-64 CPU; its vector kernels
 * (AVX-512 with VNNI, AVX-512, AVX2 or baseline) are chosen at the first call from CPUID and
 * compute the same bits on each.
 * SWIFTRNN_SIMD=avx512, =avx2 or =baseline in the environment lowers the choice (never raises it).
 *
 * OpenBLAS: the first model load loads libopenblas.so.0. If the host already loaded it, the
 * library uses that instance as it is and changes none of its settings. Otherwise the instance
 * is the library's and runs one thread: if the process has no other thread yet, the library
 * sets OPENBLAS_NUM_THREADS=1 and, when unset, OPENBLAS_CORETYPE for this CPU in the
 * environment around that dlopen only; with other threads running it never touches the
 * environment (setenv is not safe against their getenv) and calls openblas_set_num_threads(1)
 * instead, and OpenBLAS picks its core itself (set OPENBLAS_CORETYPE, or load the first model
 * before starting threads, on CPUs your OpenBLAS does not know).
 *
 * Stability: everything declared here is stable: a newer 0.x library runs programs built
 * against an older 0.x header (structs only grow at their end, read up to their struct_size;
 * enums and statuses only gain values; functions are never removed or changed). A function
 * added later says since which version. New surfaces start in a separate "Experimental"
 * section at the end of this header, which may change between minor versions (and the
 * sampling-control fields of swiftrnn_sample_params, marked experimental).
 *
 * What this library cannot check, and is undefined behaviour: a pointer that is not NULL but
 * invalid (freed, or to a buffer shorter than the length given with it); freeing a model or a
 * generator twice, or using one after it was freed; using one generator from two threads at
 * once; a params struct whose struct_size is larger than the memory behind it.
 */
#ifndef SWIFTRNN_H
#define SWIFTRNN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__) || defined(__clang__)
#define SWIFTRNN_API __attribute__((visibility("default")))
#else
#define SWIFTRNN_API
#endif

/* ---- Version -------------------------------------------------------------------------- */

#define SWIFTRNN_VERSION_MAJOR 0
#define SWIFTRNN_VERSION_MINOR 8
#define SWIFTRNN_VERSION_PATCH 0
#define SWIFTRNN_VERSION_NUMBER \
  (SWIFTRNN_VERSION_MAJOR * 10000 + SWIFTRNN_VERSION_MINOR * 100 + SWIFTRNN_VERSION_PATCH)
#define SWIFTRNN_VERSION_STRING "0.8.0"

/* The library's version, e.g. "0.2.0"; compare with SWIFTRNN_VERSION_STRING to check that the
 * header and the loaded library agree. Static storage; thread-safe. */
SWIFTRNN_API const char *swiftrnn_version(void);
/* The library's SWIFTRNN_VERSION_NUMBER. Thread-safe. */
SWIFTRNN_API int swiftrnn_version_number(void);

/* ---- Errors --------------------------------------------------------------------------- */

typedef enum swiftrnn_status {
  SWIFTRNN_OK = 0,
  SWIFTRNN_ERR_INVALID_ARGUMENT, /* a NULL pointer, a value out of range, an unknown character */
  SWIFTRNN_ERR_IO,               /* a file that is missing or cannot be read */
  SWIFTRNN_ERR_FORMAT,           /* anything wrong inside a model file or buffer */
  SWIFTRNN_ERR_UNSUPPORTED,      /* a well-formed file of a newer version or unknown dtype */
  SWIFTRNN_ERR_WRONG_KIND,       /* e.g. scoring with a character model */
  SWIFTRNN_ERR_BUFFER_TOO_SMALL, /* the size needed was reported through the out-parameter */
  SWIFTRNN_ERR_OUT_OF_MEMORY,    /* an allocation that depends on the input failed */
  SWIFTRNN_ERR_INTERNAL,         /* a bug in libswiftrnn: please report it with the message */
  SWIFTRNN_ERR_NON_FINITE,       /* the model computed NaN or infinity on this input (weights
                                    that overflow Float); no result is OK with a NaN in it */
  SWIFTRNN_ERR_CANCELLED         /* a progress callback returned nonzero (since 0.2.0) */
} swiftrnn_status;

/* A fixed English name for a status ("SWIFTRNN_ERR_FORMAT"); "unknown status" for other values.
 * Static storage; thread-safe. */
SWIFTRNN_API const char *swiftrnn_status_string(swiftrnn_status status);

/* The message of the calling thread's last failed call ("" if no call has failed on this
 * thread). Successful calls leave it unchanged. Owned by the library; valid until this thread's
 * next failing call. Thread-safe (one message per thread). */
SWIFTRNN_API const char *swiftrnn_last_error(void);

/* ---- Models --------------------------------------------------------------------------- */

/* A loaded model. Immutable after load: share one across threads freely. */
typedef struct swiftrnn_model swiftrnn_model;

typedef enum swiftrnn_kind {
  SWIFTRNN_KIND_SENTIMENT = 1, /* text -> probability that a review is positive */
  SWIFTRNN_KIND_CHARLM = 2,    /* characters -> next-character distribution */
  SWIFTRNN_KIND_WORDLM = 3,    /* tokens -> next-token distribution: a pretrained encoder for a
                                  review scorer (docs/pretraining.md); loads and describes
                                  itself, answers no scoring or sampling call. Added in 0.3.0. */
  SWIFTRNN_KIND_CLASSIFIER = 4 /* text -> a probability per named label (experimental, added in
                                  0.3.0: swiftrnn_classify; older programs see an unknown kind) */
} swiftrnn_kind;

typedef enum swiftrnn_cell {
  SWIFTRNN_CELL_LSTM = 1,
  SWIFTRNN_CELL_GRU = 2,
  SWIFTRNN_CELL_RNN_TANH = 3,
  SWIFTRNN_CELL_RNN_RELU = 4,
  SWIFTRNN_CELL_JORDAN = 5   /* output recurrence, charlm only (docs/jordan.md); hidden_size is
                                its h, not its output_size. Added in 0.4.0. */
} swiftrnn_cell;

/* The precision a model's weights are stored and multiplied in (docs/model-format.md, "Weight
 * precision"). F16 and BF16 give exactly the results of the same weights in F32 (they are
 * widened exactly, inside the kernels); INT8 (per-row int8 weights, inputs quantized per
 * product) stays within the tolerance documented there. Added in 0.3.0. */
typedef enum swiftrnn_precision {
  SWIFTRNN_PRECISION_F32 = 0,
  SWIFTRNN_PRECISION_F16 = 1,
  SWIFTRNN_PRECISION_BF16 = 2,
  SWIFTRNN_PRECISION_INT8 = 3
} swiftrnn_precision;

/* Loads a model file (docs/model-format.md). Everything is validated before use; F16/BF16 and
 * int8 weights keep their precision for the products (see swiftrnn_precision). On failure *out_model is set to NULL: SWIFTRNN_ERR_IO (cannot open or
 * read, or not a regular file: a directory, FIFO or device), SWIFTRNN_ERR_FORMAT (bad content,
 * an empty file included), SWIFTRNN_ERR_UNSUPPORTED (newer format or dtype). The first load in
 * a process also loads OpenBLAS (libopenblas.so.0); if it is missing: SWIFTRNN_ERR_IO.
 * The caller owns the model and frees it with swiftrnn_model_free. Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_model_load(const char *path, swiftrnn_model **out_model);

/* As swiftrnn_model_load, from a buffer holding the file's bytes. The model copies what it
 * needs: the buffer may be freed as soon as the call returns. size 0 is a format error. */
SWIFTRNN_API swiftrnn_status swiftrnn_model_load_from_memory(const void *data, size_t size,
                                                             swiftrnn_model **out_model);

/* Frees a model. NULL is a no-op. The model must not be in use by another thread. Generators
 * created from it hold a reference to it: the model may be freed before them, and its memory
 * is released when the last of them is freed. */
SWIFTRNN_API void swiftrnn_model_free(swiftrnn_model *model);

/* What a model is. Set struct_size = sizeof(swiftrnn_model_info) before the call: the library
 * fills only the fields that fit, so programs built against an older header keep working. */
typedef struct swiftrnn_model_info {
  size_t struct_size;
  swiftrnn_kind kind;
  swiftrnn_cell cell;
  int32_t vocab_size;    /* tokens (sentiment) or characters (charlm) */
  int32_t embedding_dim;
  int32_t hidden_size;
  int32_t num_layers;
  int32_t bidirectional; /* 0 or 1 */
  int32_t head_layers;   /* Linear layers after the recurrent stack */
  uint64_t n_parameters;
  swiftrnn_precision precision; /* Added in 0.3.0: the weights' precision (a file's F16, INT8...) */
} swiftrnn_model_info;

/* Fills *info (see swiftrnn_model_info). INVALID_ARGUMENT if info->struct_size is smaller than
 * offsetof(swiftrnn_model_info, kind) + sizeof(swiftrnn_kind). Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_model_get_info(const swiftrnn_model *model,
                                                     swiftrnn_model_info *info);

/* A one-line human description, e.g. "sentiment: lstm 1 layer, bidirectional, hidden 64, ...".
 * Owned by the model, valid until swiftrnn_model_free; NULL for a NULL model. Thread-safe. */
SWIFTRNN_API const char *swiftrnn_model_describe(const swiftrnn_model *model);

/* Text -> indices, as the model sees them: book tokenizer + vocabulary (<unk> = 1) for a
 * sentiment model; characters through the table for a character model (a character outside
 * the table is INVALID_ARGUMENT naming it). Two-call sizing: *out_count receives the number
 * of ids; out_ids may be NULL when capacity is 0, which returns BUFFER_TOO_SMALL for a text with
 * ids and OK for one without. Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_encode(const swiftrnn_model *model, const char *text,
                                             size_t text_len, int32_t *out_ids, size_t capacity,
                                             size_t *out_count);

/* The book's tokenizer, no model needed: the tokens of text, each followed by '\n' (tokens never
 * contain whitespace), NUL-terminated. *out_len = bytes without the NUL; when capacity is too
 * small (it needs *out_len + 1, so even a text without tokens needs 1), BUFFER_TOO_SMALL with
 * *out_len = the bytes needed without the NUL. out may be NULL when out_capacity is 0.
 * Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_tokenize(const char *text, size_t text_len, char *out,
                                               size_t out_capacity, size_t *out_len);

/* ---- Progress and cancellation --------------------------------------------------------- */

/* Called by a long call (a batch, a generation) on the thread that made the call, every 2 ms
 * or so while it works (and once at the end of a batch): done and total count the call's units
 * (reviews of a batch, characters to generate). Return 0 to go on; nonzero stops the call,
 * which then returns SWIFTRNN_ERR_CANCELLED within a few milliseconds and writes no results.
 * The model stays usable. The callback must not call back into the same generator. Added in
 * 0.2.0. */
typedef int (*swiftrnn_progress_fn)(void *user_data, size_t done, size_t total);

/* ---- Sentiment ------------------------------------------------------------------------ */

/* The probability that text is a positive review, in [0, 1]. A text with no tokens is scored
 * as the one-token sequence [<pad>] (docs/model-format.md). A model with an n-gram term
 * (format version 4, since 0.5.0: the shipped scorer) adds it to the network's logit, here and
 * in every text-in scoring and classifying function; swiftrnn_encode and swiftrnn_embed are the
 * network's alone. WRONG_KIND for a character model.
 * Memory: working memory does not grow with the text beyond its bytes, tokens and ids (about
 * 6x the text for prose, 14x for a text of emoticons only; docs/bad-input.md has the table);
 * a text over 1 MiB for which 16x its size cannot be reserved is SWIFTRNN_ERR_OUT_OF_MEMORY,
 * checked before any work. Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_score_sentiment(const swiftrnn_model *model,
                                                      const char *text, size_t text_len,
                                                      float *out_probability);

/* Scores count texts; out_probabilities[i] is exactly what swiftrnn_score_sentiment gives for
 * texts[i]. n_threads: 0 uses every core, otherwise at most that many threads (capped at the
 * number of cores; negative is INVALID_ARGUMENT). Memory: the texts' copies and token ids
 * (4,096 texts at a time), plus per thread a group of 16 reviews' working memory (16 x 256 x
 * gates x hidden floats: 4.7 MB for the shipped model); OUT_OF_MEMORY as for one text, checked
 * for the longest text times the threads. texts[i] may be NULL only when text_lens[i] == 0 (an
 * empty text). count 0 is OK and does nothing; then the arrays may be NULL.
 * Faster per review than single calls: texts are sorted by length and run 16 at a time through
 * kernels that share each weight load among 4 reviews, computing every review exactly as alone.
 * Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_score_sentiment_batch(const swiftrnn_model *model,
                                                            const char *const *texts,
                                                            const size_t *text_lens, size_t count,
                                                            int n_threads,
                                                            float *out_probabilities);

/* Options of swiftrnn_score_sentiment_batch_ex. Fill with swiftrnn_batch_params_init. */
typedef struct swiftrnn_batch_params {
  size_t struct_size;             /* sizeof(swiftrnn_batch_params): lets the struct grow */
  int32_t n_threads;              /* as swiftrnn_score_sentiment_batch's n_threads; 0: all cores */
  swiftrnn_progress_fn progress;  /* NULL: none; else called with reviews scored, count */
  void *progress_user_data;       /* passed to progress */
} swiftrnn_batch_params;

/* Fills the defaults (n_threads 0, no progress) and struct_size; writes only struct_size bytes.
 * Thread-safe. */
SWIFTRNN_API void swiftrnn_batch_params_init_sized(swiftrnn_batch_params *params, size_t struct_size);
#define swiftrnn_batch_params_init(params) \
  swiftrnn_batch_params_init_sized((params), sizeof *(params))

/* swiftrnn_score_sentiment_batch with params (NULL: defaults): a progress callback can follow
 * and stop the batch (SWIFTRNN_ERR_CANCELLED; out_probabilities is then unspecified). Results
 * are the same bits as without. Thread-safe. Added in 0.2.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_score_sentiment_batch_ex(const swiftrnn_model *model,
                                                               const char *const *texts,
                                                               const size_t *text_lens, size_t count,
                                                               const swiftrnn_batch_params *params,
                                                               float *out_probabilities);

/* ---- Character language model --------------------------------------------------------- */

typedef struct swiftrnn_sample_params {
  size_t struct_size;   /* sizeof(swiftrnn_sample_params): lets the struct grow */
  float scale_factor;   /* logits are multiplied by it, as in the book; 1.0. Temperature is
                           1/scale_factor. Must be finite and > 0 unless greedy. */
  int32_t top_k;        /* keep the k most likely characters; 0: off */
  float top_p;          /* keep the smallest set whose probability reaches top_p; 1.0: off */
  int32_t greedy;       /* nonzero: always the most likely character (argmax); then
                           scale_factor, top_k and top_p are ignored */
  uint64_t seed;        /* the same (model, prime, params, seed) gives the same text */
  int32_t n_threads;    /* swiftrnn_sample_text only: 1, or 2 to split every step's hidden units
                           with a helper thread (worth it for hidden sizes >= 128; 0: 2 when the
                           machine has 2+ cores; more than 2 acts as 2). The text is the same for
                           any value. A streaming generator always runs on the calling thread.
                           Negative is INVALID_ARGUMENT. A struct_size of 32 (a struct without
                           this field) means 1. */
  swiftrnn_progress_fn progress; /* swiftrnn_sample_text only (since 0.2.0): NULL, or called
                           with characters generated, n_chars; nonzero stops the call with
                           SWIFTRNN_ERR_CANCELLED and the buffer untouched */
  void *progress_user_data;      /* passed to progress */
  /* Sampling controls (experimental, added in 0.3.0; see "Experimental" at the end). They
   * act alike in swiftrnn_sample_text and a generator, and draws stay determined by the seed.
   * A draw goes: repetition penalty on the model's logits, banned characters removed (greedy
   * then takes the argmax of the rest), logits x scale_factor, softmax, top_k, top_p, min_p,
   * one uniform draw. */
  const char *const *stop_strings; /* n_stop_strings NUL-terminated UTF-8 strings (at most 256,
                           each 1..256 characters), or NULL when n_stop_strings is 0. Generation
                           ends after the first character that completes one of them (matched
                           against the characters drawn since the prime or the last feed; the
                           stop string stays in the output). The strings are copied by the call
                           that reads the params. */
  size_t n_stop_strings;
  float repetition_penalty; /* CTRL-style: for each distinct character among the last
                           repetition_window characters of the text (prime, fed text and drawn
                           characters), its logit l becomes l / repetition_penalty if l > 0,
                           else l * repetition_penalty (a result beyond Float is clamped to
                           +-FLT_MAX). 1: off (default). Must be finite and > 0. */
  int32_t repetition_window; /* the characters penalized: 64 by default; 0: off; at most
                           1048576; negative is INVALID_ARGUMENT */
  float min_p;          /* after top_k and top_p, drop every character whose probability is
                           below min_p x the most likely one's; in [0, 1]; 0: off (default) */
  const char *banned;   /* UTF-8 characters never drawn (banned_len bytes; NULL when 0).
                           Characters outside the model's table are ignored; banning every
                           character of the table is INVALID_ARGUMENT. */
  size_t banned_len;
} swiftrnn_sample_params;

/* Fills the defaults: scale_factor 1, top_k 0, top_p 1, greedy 0, seed 0, n_threads 1, no
 * progress callback, no stop strings, repetition_penalty 1, repetition_window 64, min_p 0,
 * nothing banned, and struct_size. Only the first struct_size bytes are written, so a program built against an
 * older, smaller struct stays safe with a newer library. Thread-safe. */
SWIFTRNN_API void swiftrnn_sample_params_init_sized(swiftrnn_sample_params *params, size_t struct_size);

/* The usual call: swiftrnn_sample_params_init(&params). A macro so that the size the caller was
 * compiled with travels with the call. (The library also exports a function of this name that
 * writes the whole current struct, for FFI users who declare the struct themselves.) */
#define swiftrnn_sample_params_init(params) \
  swiftrnn_sample_params_init_sized((params), sizeof *(params))

/* Writes prime + n_chars generated characters, NUL-terminated, as the book's sample() returns:
 * the state is warmed on every prime character but the last, which is then fed to draw the
 * first new character. *out_len = bytes written without the NUL. When out_capacity is too small
 * the buffer is left untouched, the result is BUFFER_TOO_SMALL and *out_len = the bytes needed
 * without the NUL: exact when the text was generated to measure it (call again with the same
 * params to get the same text); when out_capacity < prime_len + n_chars + 1 (which can never
 * suffice) nothing is generated and *out_len is the upper bound prime_len + n_chars x the longest
 * UTF-8 character of the model's table, so a huge n_chars costs no time. Memory stays bounded by
 * out_capacity whatever n_chars is. out may be NULL only with out_capacity 0 (to ask for the
 * size). params NULL: defaults. n_chars 0 returns the prime. An empty prime or one with a
 * character outside the model's table is INVALID_ARGUMENT. WRONG_KIND for a sentiment model.
 * Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_sample_text(const swiftrnn_model *model, const char *prime,
                                                  size_t prime_len, size_t n_chars,
                                                  const swiftrnn_sample_params *params, char *out,
                                                  size_t out_capacity, size_t *out_len);

/* Streaming generation: one character per call, no buffer for the whole text. */
typedef struct swiftrnn_generator swiftrnn_generator;

/* Creates a generator warmed on prime (as swiftrnn_sample_text). It keeps a reference to model
 * (freeing the model first is safe; see swiftrnn_model_free). Owned by the caller; free with swiftrnn_generator_free. On failure
 * *out_generator is NULL. Thread-safe (the model is only read). */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_create(const swiftrnn_model *model,
                                                       const char *prime, size_t prime_len,
                                                       const swiftrnn_sample_params *params,
                                                       swiftrnn_generator **out_generator);

/* Draws the next character and writes its UTF-8 bytes plus a NUL to out (at most 5 bytes are
 * ever needed, so a char[8] always does; out must not be NULL). *out_len = bytes without the NUL. The sequence equals the characters that
 * swiftrnn_sample_text appends to the prime with the same params. If out_capacity is not larger
 * than the longest character of the model's table, no character is drawn: BUFFER_TOO_SMALL,
 * *out_len = that longest length (the buffer needs one more byte, for the NUL). After a stop
 * string ended generation (params.stop_strings), OK with *out_len 0 and out "" until the next
 * swiftrnn_generator_feed or swiftrnn_generator_load_state. One thread at a time per generator. */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_next(swiftrnn_generator *generator, char *out,
                                                     size_t out_capacity, size_t *out_len);

/* Frees a generator. NULL is a no-op. */
SWIFTRNN_API void swiftrnn_generator_free(swiftrnn_generator *generator);

/* How well a character model predicts text: the first character only conditions; each later
 * one is predicted from all before it, in one stateful pass. *out_nats = the negative
 * log-likelihood in nats (>= 0), *out_predicted = characters predicted (length - 1). Bits per
 * character = *out_nats / *out_predicted / ln 2. A character outside the table is
 * INVALID_ARGUMENT naming it; a text of fewer than 2 characters gives 0 and 0. Thread-safe. */
SWIFTRNN_API swiftrnn_status swiftrnn_log_likelihood(const swiftrnn_model *model,
                                                     const char *text, size_t text_len,
                                                     double *out_nats, size_t *out_predicted);

/* ---- Experimental ----------------------------------------------------------------------
 * What follows may change between minor versions (the header's Stability paragraph). */

/* swiftrnn_sample_text that also says why it ended: *out_stop_index = the index in
 * params->stop_strings of the stop string that ended generation, or -1 when n_chars characters
 * were generated (or the call failed). Every other argument and result as swiftrnn_sample_text,
 * which honours stop strings too (its text ends with the stop string). Thread-safe.
 * Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_sample_text_ex(const swiftrnn_model *model, const char *prime,
                                                     size_t prime_len, size_t n_chars,
                                                     const swiftrnn_sample_params *params,
                                                     char *out, size_t out_capacity,
                                                     size_t *out_len, int32_t *out_stop_index);

/* Character index of a character model's table, as UTF-8 plus a NUL: the order of
 * swiftrnn_encode's ids and of swiftrnn_generator_logits. *out_len = bytes without the NUL
 * (at most 4); out_capacity not larger than that: BUFFER_TOO_SMALL with *out_len set (out may
 * be NULL with capacity 0). index outside 0 .. vocab_size - 1: INVALID_ARGUMENT. WRONG_KIND
 * for a sentiment model. Thread-safe. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_model_character(const swiftrnn_model *model, int32_t index,
                                                      char *out, size_t out_capacity,
                                                      size_t *out_len);

/* Advances the generator over text exactly as a longer prime would have: a generator created
 * with prime P and fed "ab" then "c" is in the state (and draws the characters) of one created
 * with prime P + "abc". The pending character (the prime's last, or the last drawn) is taken
 * in first; text's last character becomes the pending one. The random stream is not touched.
 * text_len 0 does nothing. A character outside the model's table is INVALID_ARGUMENT and
 * changes nothing. After a stop string ended generation, a feed lets it go on (stop strings then
 * match only characters drawn after the fed text). One thread at a time per generator.
 * Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_feed(swiftrnn_generator *generator,
                                                     const char *text, size_t text_len);

/* Whether a stop string ended generation: *out_index = its index in the params' stop_strings,
 * or -1. After a stop, swiftrnn_generator_next returns SWIFTRNN_OK with *out_len 0 (an empty
 * string) and draws nothing until swiftrnn_generator_feed or swiftrnn_generator_load_state.
 * One thread at a time per generator. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_stop_index(const swiftrnn_generator *generator,
                                                           int32_t *out_index);

/* The distribution of the next character before sampling: out[k] = the model's logit of
 * character k of the table times scale_factor (the scaled logits; softmax(out) is the
 * distribution a plain draw uses), before the repetition penalty, banned characters, top_k,
 * top_p and min_p. With greedy set, scale_factor is ignored and the logits are unscaled.
 * *out_count = the number of characters of the table (vocab_size); capacity smaller:
 * BUFFER_TOO_SMALL (out may be NULL with capacity 0 to ask). The call takes the pending
 * character into the state once; the next swiftrnn_generator_next draws from these logits
 * without stepping again, so calling it changes no generated character. NON_FINITE when a
 * value is not finite (weights that overflow, or a scale_factor that overflows a logit).
 * One thread at a time per generator. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_logits(swiftrnn_generator *generator, float *out,
                                                       size_t capacity, size_t *out_count);

/* Writes the generator's state: recurrent state, pending character, the sampler's random
 * state, the recent characters the repetition penalty and stop strings look at, and whether a
 * stop string ended generation, in the versioned byte layout of docs/c-api.md ("Generator
 * state"). *out_len = its size in bytes; capacity smaller: BUFFER_TOO_SMALL with *out_len the
 * size needed (buf NULL with capacity 0 asks for the size). The parameters (scale_factor, stop
 * strings, ...) are not part of it. The first save or load of a generator hashes the model's
 * weights (about 1 ms per million). One thread at a time per generator. Experimental, added in
 * 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_save_state(const swiftrnn_generator *generator,
                                                           void *buf, size_t capacity,
                                                           size_t *out_len);

/* Replaces the generator's state by one swiftrnn_generator_save_state wrote, from this
 * process or another: afterwards the generator draws exactly the characters the saved one
 * would have drawn, given the same parameters (the generator keeps its own parameters).
 * SWIFTRNN_ERR_FORMAT for bytes that are not a whole, intact state (truncated, corrupted:
 * a checksum covers every byte), SWIFTRNN_ERR_UNSUPPORTED for a newer layout version,
 * SWIFTRNN_ERR_INVALID_ARGUMENT for a state saved from another model (shape or weights
 * differ). On failure the generator is unchanged. The buffer is not kept. One thread at a time
 * per generator. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_generator_load_state(swiftrnn_generator *generator,
                                                           const void *buf, size_t len);

/* ---- Classifiers and features (experimental, added in 0.3.0) ----------------------------
 * A classifier model (kind SWIFTRNN_KIND_CLASSIFIER, docs/model-format.md) is the sentiment
 * pipeline (tokenizer, vocabulary, embedding, recurrent stack, final hidden state, Linear
 * (ReLU Linear)*) with n_labels outputs and label names: a softmax over them (single-label) or
 * a sigmoid per label (multi-label). A sentiment model answers these calls too, as the
 * multi-label classifier with the one label "positive" (its probability is the bits of
 * swiftrnn_score_sentiment). A character model is WRONG_KIND. An empty text is scored as for
 * swiftrnn_score_sentiment; memory and OUT_OF_MEMORY as there. */

/* The probability of each label for text: out_probabilities[i] for label i
 * (swiftrnn_model_label). *out_n_labels = the number of labels; capacity smaller:
 * BUFFER_TOO_SMALL with *out_n_labels set (out_probabilities may be NULL with capacity 0 to
 * ask). Single-label: the values sum to 1 (within rounding); multi-label: each is in [0, 1].
 * NON_FINITE when the weights overflow on this text. Thread-safe. Experimental, added in
 * 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_classify(const swiftrnn_model *model, const char *text,
                                               size_t text_len, float *out_probabilities,
                                               size_t capacity, size_t *out_n_labels);

/* Classifies count texts: row i (out_probabilities[i * n_labels ...]) is exactly what
 * swiftrnn_classify gives for texts[i]. capacity counts floats and must be at least count *
 * n_labels, else BUFFER_TOO_SMALL (with *out_n_labels set). texts, text_lens, count and
 * n_threads as in swiftrnn_score_sentiment_batch (count 0 sets *out_n_labels and does nothing).
 * NON_FINITE when some text overflows: every row is written, those rows are NaN. Thread-safe.
 * Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_classify_batch(const swiftrnn_model *model,
                                                     const char *const *texts,
                                                     const size_t *text_lens, size_t count,
                                                     int n_threads, float *out_probabilities,
                                                     size_t capacity, size_t *out_n_labels);

/* swiftrnn_classify_batch with params (NULL: defaults; see swiftrnn_batch_params): its
 * progress callback is called with the texts done and can stop the batch
 * (SWIFTRNN_ERR_CANCELLED; the rows are then unspecified). Results are the same bits as
 * without. Thread-safe. Experimental, added in 0.4.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_classify_batch_ex(const swiftrnn_model *model,
                                                        const char *const *texts,
                                                        const size_t *text_lens, size_t count,
                                                        const swiftrnn_batch_params *params,
                                                        float *out_probabilities, size_t capacity,
                                                        size_t *out_n_labels);

/* The name of label index, as UTF-8 plus a NUL. *out_len = bytes without the NUL; out_capacity
 * not larger than that: BUFFER_TOO_SMALL with *out_len set (out may be NULL with capacity 0 to
 * ask). index outside 0 .. n_labels - 1: INVALID_ARGUMENT. *out_n_labels, when not NULL, is set
 * to the number of labels even then (index -1 asks only for it). A sentiment model has the one
 * label "positive". Thread-safe. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_model_label(const swiftrnn_model *model, int32_t index,
                                                  char *out, size_t out_capacity,
                                                  size_t *out_len, size_t *out_n_labels);

/* Whether a classifier is multi-label (*out_multi_label = 1: a sigmoid per label) or
 * single-label (0: a softmax). A sentiment model is 1. Thread-safe. Experimental, added in
 * 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_model_multi_label(const swiftrnn_model *model,
                                                        int *out_multi_label);

/* The feature vector of text, the vector the head reads: the final hidden state of the last
 * recurrent layer (bidirectional: the forward direction's then the backward's), D * hidden_size
 * floats (D = 2 if bidirectional; D * proj_size for an LSTM with a projection); for a model
 * with concat pooling (since 0.4.0) that, then the max and then the mean of the layer's
 * outputs over the text, 3 * D * hidden_size floats (docs/model-format.md). *out_n = that size; capacity smaller: BUFFER_TOO_SMALL with
 * *out_n set (out may be NULL with capacity 0 to ask). For sentiment and classifier models.
 * NON_FINITE when a value is not finite. Thread-safe. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_embed(const swiftrnn_model *model, const char *text,
                                            size_t text_len, float *out, size_t capacity,
                                            size_t *out_n);

/* swiftrnn_embed of count texts: row i (out[i * n ...]) is exactly what swiftrnn_embed gives
 * for texts[i]. capacity counts floats (at least count * n, else BUFFER_TOO_SMALL with *out_n
 * set); the rest as swiftrnn_classify_batch. Thread-safe. Experimental, added in 0.3.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_embed_batch(const swiftrnn_model *model,
                                                  const char *const *texts,
                                                  const size_t *text_lens, size_t count,
                                                  int n_threads, float *out, size_t capacity,
                                                  size_t *out_n);

/* swiftrnn_embed_batch with params, as swiftrnn_classify_batch_ex. Thread-safe. Experimental,
 * added in 0.4.0. */
SWIFTRNN_API swiftrnn_status swiftrnn_embed_batch_ex(const swiftrnn_model *model,
                                                     const char *const *texts,
                                                     const size_t *text_lens, size_t count,
                                                     const swiftrnn_batch_params *params, float *out,
                                                     size_t capacity, size_t *out_n);

#ifdef __cplusplus
}
#endif

#endif /* SWIFTRNN_H */
