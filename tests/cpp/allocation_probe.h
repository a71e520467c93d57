// Measures the largest single heap allocation (operator new) made on the
// calling thread while an AllocationProbe lives: lets a test show that a
// hostile length was refused before anything was allocated for it.
#pragma once

#include <cstddef>

namespace cmtest {

class AllocationProbe {
public:
    AllocationProbe();
    ~AllocationProbe();
    AllocationProbe(const AllocationProbe&) = delete;
    AllocationProbe& operator=(const AllocationProbe&) = delete;
    // Largest request seen since construction, in bytes.
    std::size_t largest() const;
};

}  // namespace cmtest
