#include "laplacian.h"

#include <stdexcept>

xt::xarray<double> laplacian(const xt::xarray<double>& u, double dx) {
    if (u.dimension() != 2 || u.shape()[0] < 3 || u.shape()[1] < 3)
        throw std::invalid_argument("laplacian needs a 2-D field of at least 3 x 3 points");
    const size_t n = u.shape()[0], m = u.shape()[1];
    xt::xarray<double> out = xt::zeros<double>({n - 2, m - 2});
    const double dx2 = dx * dx;
    for (size_t i = 1; i + 1 < n; ++i)
        for (size_t j = 1; j + 1 < m; ++j)  // the same order of operations as the numpy expression
            out(i - 1, j - 1) = (u(i - 1, j) + u(i + 1, j) + u(i, j - 1) + u(i, j + 1) - 4 * u(i, j)) / dx2;
    return out;
}
