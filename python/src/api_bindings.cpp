// Bindings of the analyse stage's API derivation (include/callmonitor/api_model.h):
// the model structs as read-only classes and derive_api(), which runs the C++
// aggregation over one writer environment without the GIL.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include "callmonitor/api_model.h"
#include "callmonitor/database.h"

namespace py = pybind11;
namespace an = callmonitor::analyse;

void registerApiBindings(py::module_& m) {
    py::class_<an::TypeCount>(m, "ApiTypeCount")
        .def_readonly("type", &an::TypeCount::type)
        .def_readonly("count", &an::TypeCount::count);
    py::class_<an::NamedCount>(m, "ApiNamedCount")
        .def_readonly("name", &an::NamedCount::name)
        .def_readonly("count", &an::NamedCount::count);
    py::class_<an::ShapeCount>(m, "ApiShapeCount")
        .def_readonly("type", &an::ShapeCount::type)
        .def_readonly("shape", &an::ShapeCount::shape)
        .def_readonly("count", &an::ShapeCount::count);
    py::class_<an::PandasCount>(m, "ApiPandasCount")
        .def_readonly("type", &an::PandasCount::type)
        .def_readonly("columns", &an::PandasCount::columns)
        .def_readonly("column_count", &an::PandasCount::columnCount)
        .def_readonly("dtype", &an::PandasCount::dtype)
        .def_readonly("min_length", &an::PandasCount::minLength)
        .def_readonly("max_length", &an::PandasCount::maxLength)
        .def_readonly("count", &an::PandasCount::count);
    py::class_<an::Timing>(m, "ApiTiming")
        .def_readonly("count", &an::Timing::count)
        .def_readonly("total_ns", &an::Timing::totalNs)
        .def_readonly("min_ns", &an::Timing::minNs)
        .def_readonly("max_ns", &an::Timing::maxNs)
        .def_readonly("histogram", &an::Timing::histogram)
        .def_static("bucket_of", &an::Timing::bucketOf)
        .def_static("bucket_low", &an::Timing::bucketLow);
    py::class_<an::ParameterUsage>(m, "ApiParameterUsage")
        .def_readonly("name", &an::ParameterUsage::name)
        .def_readonly("kind", &an::ParameterUsage::kind)
        .def_readonly("has_default", &an::ParameterUsage::hasDefault)
        .def_readonly("default_repr", &an::ParameterUsage::defaultRepr)
        .def_readonly("default_type", &an::ParameterUsage::defaultType)
        .def_readonly("annotation", &an::ParameterUsage::annotation)
        .def_readonly("positional", &an::ParameterUsage::positional)
        .def_readonly("keyword", &an::ParameterUsage::keyword)
        .def_readonly("defaulted", &an::ParameterUsage::defaulted)
        .def_readonly("missing", &an::ParameterUsage::missing)
        .def_readonly("values", &an::ParameterUsage::values)
        .def_readonly("types", &an::ParameterUsage::types)
        .def_readonly("literals", &an::ParameterUsage::literals)
        .def_readonly("literals_complete", &an::ParameterUsage::literalsComplete)
        .def_readonly("shapes", &an::ParameterUsage::shapes)
        .def_readonly("other_shapes", &an::ParameterUsage::otherShapes)
        .def_readonly("pandas", &an::ParameterUsage::pandas)
        .def_readonly("other_pandas", &an::ParameterUsage::otherPandas)
        .def_readonly("keyword_names", &an::ParameterUsage::keywordNames)
        .def_readonly("sampled_values", &an::ParameterUsage::sampledValues);
    py::class_<an::SignatureUsage>(m, "ApiSignatureUsage")
        .def_readonly("types", &an::SignatureUsage::types)
        .def_readonly("calls", &an::SignatureUsage::calls)
        .def_readonly("returns", &an::SignatureUsage::returns)
        .def_readonly("exceptions", &an::SignatureUsage::exceptions)
        .def_readonly("timing", &an::SignatureUsage::timing)
        .def_readonly("labels", &an::SignatureUsage::labels);
    py::class_<an::GeneratorUsage>(m, "ApiGeneratorUsage")
        .def_readonly("yields", &an::GeneratorUsage::yields)
        .def_readonly("yielded", &an::GeneratorUsage::yielded)
        .def_readonly("yielded_recorded", &an::GeneratorUsage::yieldedRecorded)
        .def_readonly("yielded_unrecorded", &an::GeneratorUsage::yieldedUnrecorded)
        .def_readonly("closed", &an::GeneratorUsage::closed)
        .def_readonly("dropped", &an::GeneratorUsage::dropped);
    py::class_<an::FunctionApi>(m, "ApiFunction")
        .def_readonly("module", &an::FunctionApi::module)
        .def_readonly("qualname", &an::FunctionApi::qualname)
        .def_readonly("name", &an::FunctionApi::name)
        .def_readonly("file", &an::FunctionApi::file)
        .def_readonly("line", &an::FunctionApi::line)
        .def_readonly("kind", &an::FunctionApi::kind)
        .def_readonly("return_annotation", &an::FunctionApi::returnAnnotation)
        .def_readonly("signature_known", &an::FunctionApi::signatureKnown)
        .def_readonly("calls", &an::FunctionApi::calls)
        .def_readonly("returned", &an::FunctionApi::returned)
        .def_readonly("raised", &an::FunctionApi::raised)
        .def_readonly("pending", &an::FunctionApi::pending)
        .def_readonly("result_skipped", &an::FunctionApi::resultSkipped)
        .def_readonly("undecodable", &an::FunctionApi::undecodable)
        .def_readonly("unbound", &an::FunctionApi::unbound)
        .def_readonly("parameters", &an::FunctionApi::parameters)
        .def_readonly("returns", &an::FunctionApi::returns)
        .def_readonly("return_shapes", &an::FunctionApi::returnShapes)
        .def_readonly("return_pandas", &an::FunctionApi::returnPandas)
        .def_readonly("other_return_pandas", &an::FunctionApi::otherReturnPandas)
        .def_readonly("exceptions", &an::FunctionApi::exceptions)
        .def_readonly("signatures", &an::FunctionApi::signatures)
        .def_readonly("other_signature_calls", &an::FunctionApi::otherSignatureCalls)
        .def_readonly("timing", &an::FunctionApi::timing)
        .def_readonly("callers", &an::FunctionApi::callers)
        .def_readonly("sites", &an::FunctionApi::sites)
        .def_readonly("labels", &an::FunctionApi::labels)
        .def_readonly("generator", &an::FunctionApi::generator)
        .def_readonly("sample_items", &an::FunctionApi::sampleItems);

    py::class_<an::ApiOptions>(m, "ApiOptions", "Bounds of the API aggregation (defaults: api_model.h).")
        .def(py::init<>())
        .def_readwrite("sample_items", &an::ApiOptions::sampleItems)
        .def_readwrite("max_depth", &an::ApiOptions::maxDepth)
        .def_readwrite("max_fixed_tuple", &an::ApiOptions::maxFixedTuple)
        .def_readwrite("max_literals", &an::ApiOptions::maxLiterals)
        .def_readwrite("max_literal_bytes", &an::ApiOptions::maxLiteralBytes)
        .def_readwrite("max_shapes", &an::ApiOptions::maxShapes)
        .def_readwrite("max_signatures", &an::ApiOptions::maxSignatures);

    m.def("derive_api", [](const std::string& directory, const std::vector<uint32_t>& only,
                           const an::ApiOptions& options) {
        py::gil_scoped_release release;
        callmonitor::Database db = callmonitor::Database::open(directory);
        return an::deriveApi(db, options, only);
    }, py::arg("directory"), py::arg("only") = std::vector<uint32_t>{}, py::arg("options") = an::ApiOptions{},
       "The API model (list of ApiFunction) of the functions of one writer environment "
       "(only: function ids to keep, empty = all).");
    m.def("api_union_text", [](std::vector<std::string> members) { return an::unionText(std::move(members)); },
          "A union of type expressions as the API model spells it (sorted, None last, Optional/Union).");
}
