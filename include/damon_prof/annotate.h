/* damon-prof annotations: markers, named phases, and memory handed out by a custom allocator.
 *
 * Header only: include it and call the functions; there is nothing to link. Under damon-prof the
 * calls reach the preloaded runtime (found once through the dynamic linker); without it they do
 * nothing, at the cost of one load and one branch after the first call.
 *
 *   damon_prof_marker("cache warmed");           a point in time, on timelines and heatmaps
 *   damon_prof_phase_begin("load");              phases nest and repeat; `damon-prof check
 *   ...                                          --phase load max-peak=64MiB` limits one
 *   damon_prof_phase_end("load");
 *
 *   void* p = arena_alloc(arena, n);             an allocator that carves blocks out of memory
 *   damon_prof_custom_alloc(p, n);               it got from malloc or mmap: each block becomes
 *   ...                                          an allocation of its own, attributed to the
 *   damon_prof_custom_free(p);                   caller's stack (the arena's memory is not
 *                                                counted twice); freeing or unmapping the arena
 *                                                ends the blocks still inside it
 *
 * Names are copied (at most 255 bytes); the functions may be called from any thread. C and C++.
 * Needs glibc 2.34 or later (dlsym in libc itself), or -ldl with older ones.
 */
#ifndef DAMON_PROF_ANNOTATE_H
#define DAMON_PROF_ANNOTATE_H

#include <dlfcn.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What the runtime exports, under the name DAMON_PROF_ANNOTATION_SYMBOL. */
struct damon_prof_annotation_api {
  unsigned version; /* 1 */
  void (*marker)(const char* name);
  void (*phase_begin)(const char* name);
  void (*phase_end)(const char* name);
  void (*custom_alloc)(const void* address, size_t size);
  void (*custom_free)(const void* address);
};

#define DAMON_PROF_ANNOTATION_SYMBOL "damon_prof_annotation_api_v1"

#ifdef __cplusplus
#define DAMON_PROF_NULL_ nullptr
#else
#define DAMON_PROF_NULL_ ((void*)0)
#endif

/* The runtime's table, or NULL when the program is not running under damon-prof. */
static inline const struct damon_prof_annotation_api* damon_prof_api(void) {
  /* NULL: not looked up yet; 1: looked up, absent; else the table. Each translation unit looks up
   * once; a race only repeats the same lookup. */
  static const struct damon_prof_annotation_api* cached;
  const struct damon_prof_annotation_api* api = __atomic_load_n(&cached, __ATOMIC_ACQUIRE);
  if (api == DAMON_PROF_NULL_) {
    api =
        (const struct damon_prof_annotation_api*)dlsym(RTLD_DEFAULT, DAMON_PROF_ANNOTATION_SYMBOL);
    if (api == DAMON_PROF_NULL_ || api->version < 1)
      api = (const struct damon_prof_annotation_api*)1;
    __atomic_store_n(&cached, api, __ATOMIC_RELEASE);
  }
  return api == (const struct damon_prof_annotation_api*)1 ? DAMON_PROF_NULL_ : api;
}

static inline void damon_prof_marker(const char* name) {
  const struct damon_prof_annotation_api* api = damon_prof_api();
  if (api != DAMON_PROF_NULL_) api->marker(name);
}

static inline void damon_prof_phase_begin(const char* name) {
  const struct damon_prof_annotation_api* api = damon_prof_api();
  if (api != DAMON_PROF_NULL_) api->phase_begin(name);
}

static inline void damon_prof_phase_end(const char* name) {
  const struct damon_prof_annotation_api* api = damon_prof_api();
  if (api != DAMON_PROF_NULL_) api->phase_end(name);
}

static inline void damon_prof_custom_alloc(const void* address, size_t size) {
  const struct damon_prof_annotation_api* api = damon_prof_api();
  if (api != DAMON_PROF_NULL_) api->custom_alloc(address, size);
}

static inline void damon_prof_custom_free(const void* address) {
  const struct damon_prof_annotation_api* api = damon_prof_api();
  if (api != DAMON_PROF_NULL_) api->custom_free(address);
}

#ifdef __cplusplus
} /* extern "C" */

namespace damon_prof {

/* A phase for the lifetime of a scope: { damon_prof::Phase phase("load"); ... } */
class Phase {
 public:
  explicit Phase(const char* name) : name_(name) { damon_prof_phase_begin(name_); }
  ~Phase() { damon_prof_phase_end(name_); }
  Phase(const Phase&) = delete;
  Phase& operator=(const Phase&) = delete;

 private:
  const char* name_;
};

}  // namespace damon_prof
#endif

#endif /* DAMON_PROF_ANNOTATE_H */
