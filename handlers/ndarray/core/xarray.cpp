// The ndarray handler, C++ side: byte-order helpers for toXarray (xarray.h).
#include "ndarray/xarray.h"

#include <algorithm>

namespace callmonitor {

// A complex element is two floats, each swapped on its own.
void swapElementBytes(uint8_t* p, size_t itemSize, bool complexPairs) {
    if (complexPairs) {
        size_t half = itemSize / 2;
        std::reverse(p, p + half);
        std::reverse(p + half, p + itemSize);
    } else {
        std::reverse(p, p + itemSize);
    }
}

bool hostIsLittleEndian() {
    const uint16_t one = 1;
    uint8_t first;
    std::memcpy(&first, &one, 1);
    return first == 1;
}

}  // namespace callmonitor
