// Replaces the global operator new/delete of the test binary (forwarding to
// malloc/free, which the sanitizers still intercept) to record request sizes
// for AllocationProbe. Only the thread with a live probe records.
#include "allocation_probe.h"

#include <cstdlib>
#include <new>

namespace {
thread_local bool tActive = false;
thread_local std::size_t tLargest = 0;

void* allocate(std::size_t n) {
    if (tActive && n > tLargest) tLargest = n;
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
}  // namespace

void* operator new(std::size_t n) { return allocate(n); }
void* operator new[](std::size_t n) { return allocate(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's temporary buffer uses them): every
// form of new must pair with the deletes above, or ASan reports a mismatch.
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
    if (tActive && n > tLargest) tLargest = n;
    return std::malloc(n ? n : 1);
}
void* operator new[](std::size_t n, const std::nothrow_t& t) noexcept { return operator new(n, t); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

namespace cmtest {
AllocationProbe::AllocationProbe() {
    tActive = true;
    tLargest = 0;
}
AllocationProbe::~AllocationProbe() { tActive = false; }
std::size_t AllocationProbe::largest() const { return tLargest; }
}  // namespace cmtest
