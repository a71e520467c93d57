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

    CapturePolicy decide;
    PolicyCounts* counts = nullptr;  // in the session's ledger
    // exclude=: the marker stored for a positional argument (by position;
    // null: recorded) and for a keyword argument (by name).
    std::vector<PyObject*> excludedPositions;  // strong refs or null
    PyObject* excludedRest = nullptr;          // *args excluded from `restFrom` on (strong)
    Py_ssize_t restFrom = -1;
    PyObject* excludedNames = nullptr;         // dict name -> marker (strong), or null

    bool shapesInputs() const {
        return decide.options().maxBytes || !excludedPositions.empty() || excludedRest || excludedNames;
    }
};

// The policy of `wrapper` (an Interceptor; its __dict__ may hold the
// function's own options) for function `fid` called `fullName`. Never
// fails: a resolver error is reported by the caller (null returned).
std::unique_ptr<FunctionPolicy> resolveFunctionPolicy(PyObject* wrapper, uint32_t fid, const std::string& fullName,
                                                      uint64_t seed, PolicyLedger& ledger);

// The inputs a kept call stores: excluded parameters as their markers and
// values over max_bytes as summaries (new references, released by the
// destructor); the arguments themselves when the policy changes nothing.
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
    bool summarized() const { return summarized_; }

private:
    void shape(const FunctionPolicy& policy, size_t nargs, PyObject* kwnames);
    void release();

    PyObject* const* args_;
    PyObject** owned_ = nullptr;
    size_t count_ = 0;
    bool summarized_ = false;
};

// The value a kept call stores as its result: `result` itself (borrowed,
// returned as a new reference) or its summary when over max_bytes.
PyObject* summarizedResult(const FunctionPolicy& policy, PyObject* result);
inline PyObject* policyResult(const FunctionPolicy* policy, PyObject* result) {
    if (__builtin_expect(policy != nullptr && policy->decide.options().maxBytes != 0, 0))
        return summarizedResult(*policy, result);
    Py_INCREF(result);
    return result;
}

// Python-facing: _core._set_policy_hooks(resolve, summarize) and the
// reader's _core._policy_before(...) (why a call was not kept).
int addPolicyFunctions(PyObject* module);

}  // namespace callmonitor::py
