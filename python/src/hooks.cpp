#include "hooks.h"

namespace callmonitor::py {

Hooks& Hooks::get() {
    static auto* h = new Hooks();  // strong refs held until exit
    return *h;
}

}  // namespace callmonitor::py
