// The module name a function, a class or a calling module is recorded (and
// read) under: the one table of module aliases. Capture applies it to what
// it writes (functions, objects' classes, caller modules); the reader
// applies it to what older databases hold, so both agree.
#pragma once

#include <string_view>

namespace callmonitor {

// multiprocessing's spawn and forkserver start methods run the parent's main
// script in the child as module "__mp_main__" (aliased to sys.modules["__main__"]):
// its functions and its calls are the user's "__main__" ones.
inline std::string_view recordedModuleName(std::string_view module) {
    if (module == "__mp_main__") return "__main__";
    return module;
}

}  // namespace callmonitor
