// Replacing a file so that a reader never sees half of it and the old one survives a failure
// (leveldb's way: write a temporary file, fsync, rename, fsync the folder).
#pragma once

#include <string>

#include "engine/status.h"

namespace runbook {

/// Writes `data` to `path` atomically, mode 0644 minus the umask (0600 when `owner_only`: a
/// file of password hashes). kIOError on failure, with the step that failed and why.
Status WriteFileAtomically(const std::string& path, const std::string& data,
                           bool owner_only = false);

}  // namespace runbook
