// The C++ port of heat_diffusion.laplacian: the five-point Laplacian of the
// interior points of a 2-D field, divided by dx².
#pragma once

#include <xtensor/xarray.hpp>

xt::xarray<double> laplacian(const xt::xarray<double>& u, double dx);
