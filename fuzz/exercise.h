// What the fuzz targets do with whatever decoded: everything a reader would
// (render, convert arrays to xt::xarray, decode parameter defaults), so a
// malformed value that slipped through decoding still meets every consumer.
// Anything but a callmonitor::Error escaping is a bug the fuzzer reports.
#pragma once

#include "callmonitor/call_record.h"
#include "callmonitor/records.h"
#include "callmonitor/value.h"

namespace callmonitor::fuzz {

// Renders `root`, converts each Array in it to the xarray of its dtype, then
// breaks its cycles (a cyclic Value graph is never freed otherwise).
void exerciseValue(const ValuePtr& root);

// Decodes and exercises the inputs and result of a parsed call record.
void exerciseCall(const CallView& call, const BlobResolver& blobs);

// Decodes and exercises the parameter defaults of a function record.
void exerciseFunction(const FunctionInfo& fn);

}  // namespace callmonitor::fuzz
