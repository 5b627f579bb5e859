#include "engine/status.h"

namespace runbook {

const char* StatusKindName(StatusKind kind) {
  switch (kind) {
    case StatusKind::kOk: return "ok";
    case StatusKind::kFailed: return "failed";
    case StatusKind::kInvalid: return "invalid";
    case StatusKind::kNotFound: return "not_found";
    case StatusKind::kRefused: return "refused";
    case StatusKind::kBusy: return "busy";
    case StatusKind::kCorruption: return "corruption";
    case StatusKind::kIOError: return "io_error";
  }
  return "failed";
}

}  // namespace runbook
