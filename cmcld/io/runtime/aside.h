// RunAside: work done on a thread of its own, so that what it allocates only for the while
// is not interleaved with what the daemon keeps.
//
// Why: glibc's malloc serves each new thread from an arena of its own. Loading 1,000
// packages allocates several times what the loaded configuration keeps (YAML trees, key
// locations, file facts, the bundle's bytes); on the io thread the kept chunks ended up
// scattered over the pages of the freed ones, which malloc_trim cannot return (a few MiB
// of an idle cmcld's RSS, docs/DESIGN_CHANGES.md). The caller copies what it keeps out of
// the result (the copy is laid out compactly in its own arena) and drops the result; then
// the other arena is free as a whole and malloc_trim returns it. With another allocator,
// or MALLOC_ARENA_MAX=1, nothing is gained and it costs a thread start.
#pragma once

#include <optional>
#include <thread>
#include <utility>

namespace cmcl::io {

// Runs `work` on a new thread and returns its result once that thread has ended. The
// caller waits meanwhile, so `work` may use the caller's state. Whatever the result holds
// was allocated on the other thread: copy what is kept for long.
template <typename Work>
auto RunAside(Work&& work) -> decltype(work()) {
  std::optional<decltype(work())> result;
  std::thread([&result, &work] { result.emplace(work()); }).join();
  return std::move(*result);
}

}  // namespace cmcl::io
