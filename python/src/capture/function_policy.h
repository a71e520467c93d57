// The Python side of one function's capture policy in one session: its
// decision (CapturePolicy), its counts in the session's ledger, and what a
// kept call stores in place of an excluded parameter (exclude=) or of a
// value over max_bytes= (a summary). Resolved once per function and session
// by callmonitor/capture/policy.py's resolve(); the front ends use it
// through the capture step.
#pragma once

#include <Python.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "capture/capture_policy.h"

namespace callmonitor::py {

class FunctionPolicy {
public:
    FunctionPolicy(const PolicyOptions& options, uint64_t seed, uint64_t function) : decide(options, seed, function) {}
    ~FunctionPolicy();
    FunctionPolicy(const FunctionPolicy&) = delete;
    FunctionPolicy& operator=(const FunctionPolicy&) = delete;

    CapturePolicy decide;  // counted per writer (WriterSlot::policyCounts)
    // exclude=: the marker stored for a positional argument (by position;
    // null: recorded) and for a keyword argument (by name).
    std::vector<PyObject*> excludedPositions;  // strong refs or null
    PyObject* excludedRest = nullptr;          // *args excluded from `restFrom` on (strong)
    Py_ssize_t restFrom = -1;
    PyObject* excludedNames = nullptr;         // dict name -> marker (strong), or null

    bool shapesInputs() const {
        return !excludedPositions.empty() || excludedRest || excludedNames;
    }
};

// The policy of `wrapper` (an Interceptor; its __dict__ may hold the
// function's own options) for function `fid` called `fullName`. Never
// fails: a resolver error is reported by the caller (null returned).
std::unique_ptr<FunctionPolicy> resolveFunctionPolicy(PyObject* wrapper, uint32_t fid, const std::string& fullName,
                                                      uint64_t seed, PolicyLedger& ledger);

// The inputs a kept call stores: excluded parameters as their markers (new
// references, released by the destructor); the arguments themselves when
// the policy excludes nothing. (max_bytes= is the encoder's: summaryOverLimit.)
class PolicyInputs {
public:
    // Inline: a policy that changes no input (nearly all) costs a few compares.
    PolicyInputs(const FunctionPolicy* policy, PyObject* const* args, size_t nargs, PyObject* kwnames) : args_(args) {
        if (__builtin_expect(policy != nullptr && policy->shapesInputs(), 0)) shape(*policy, nargs, kwnames);
    }
    ~PolicyInputs() {
        if (__builtin_expect(owned_ != nullptr, 0)) release();
    }
    PolicyInputs(const PolicyInputs&) = delete;
    PolicyInputs& operator=(const PolicyInputs&) = delete;
    PyObject* const* args() const { return args_; }

private:
    void shape(const FunctionPolicy& policy, size_t nargs, PyObject* kwnames);
    void release();

    PyObject* const* args_;
    PyObject** owned_ = nullptr;
    size_t count_ = 0;
};

// max_bytes=B on one value node (the encoder asks it for every node it
// writes, EncodeOptions::maxBytes): the summary to store in its place (a new
// reference to a ValueSummary, policy.py) when the node takes more than B
// bytes, items over B counting as their summaries; else null. Measuring
// stops past B: the cost is bounded by B, not by the size of the value.
PyObject* summaryOverLimit(PyObject* value, uint64_t limit);
// The summary of a value whose pickle (`pickled`, bytes) is over max_bytes=
// (new reference), or null (error cleared).
PyObject* pickledSummary(PyObject* value, PyObject* pickled);
inline uint64_t policyMaxBytes(const FunctionPolicy* p) { return p ? p->decide.options().maxBytes : 0; }

// Python-facing: _core._set_policy_hooks(resolve, summarize, nbytes) and the
// reader's _core._policy_before(...) (why a call was not kept).
int addPolicyFunctions(PyObject* module);

}  // namespace callmonitor::py
