#include "callmonitor/byte_buffer.h"

#include <algorithm>
#include <cstdlib>
#include <new>

namespace callmonitor {

ByteBuffer::~ByteBuffer() { std::free(data_); }

void ByteBuffer::grow(size_t n) {
    if (n > SIZE_MAX / 2 - size_) throw std::bad_alloc();
    const size_t capacity = std::max<size_t>({size_ + n, capacity_ * 2, 256});
    void* p = std::realloc(data_, capacity);
    if (!p) throw std::bad_alloc();
    data_ = static_cast<char*>(p);
    capacity_ = capacity;
}

}  // namespace callmonitor
