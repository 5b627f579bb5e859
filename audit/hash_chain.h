// The audit log's hash chain (SPEC §3, docs/audit.md).
//
// Each event is hashed over the hash of the event before it and its own canonical encoding:
//
//   hash = sha256_hex(prev_hash || canonical_event)
//
// where `||` is byte concatenation of the 64 lower-case hex digits of prev_hash and the
// canonical event, and canonical_event is the compact JSON (no whitespace, keys sorted by
// byte order, UTF-8, invalid UTF-8 replaced by U+FFFD) of exactly these ten keys:
//
//   {"attempt":N,"detail":{...},"event":"..","from":"..","phase":"..","run_id":"..",
//    "seq":N,"step":"..","to":"..","ts":".."}
//
// `detail` is canonicalized the same way, so that the stored text of the detail column may be
// re-serialized (by SQLite's json functions, say) without breaking the chain, while any change
// of a value does. The first event of a database links to kGenesisHash (64 zeros).
//
// The log stores the detail in canonical form, so the canonical event can usually be put
// together from the stored columns as they are (CanonicalEventText) without parsing the detail;
// verification does that, and takes the exact path (parse, rebuild, serialize) only for a row
// whose detail is not stored canonically or whose hash does not match.
#pragma once

#include "engine/sha256.h"  // Sha256Hex

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "audit/audit_records.h"
#include "audit/event_row.h"

namespace runbook {

/// prev_hash of the first event in a database.
inline constexpr std::string_view kGenesisHash =
    "0000000000000000000000000000000000000000000000000000000000000000";

/// Compact JSON with sorted keys; the canonical text of a JSON value. Never throws: invalid
/// UTF-8 in strings is replaced by U+FFFD.
std::string CanonicalJson(const nlohmann::json& value);

/// Parses JSON text as a column stores it; nullopt when it is not valid JSON. Never throws.
std::optional<nlohmann::json> ParseStoredJson(std::string_view text);

/// Whether JSON text has an object with the same key twice (which parsing would silently
/// collapse, so that the hash of the parsed value no longer covers what is stored). False for
/// text that is not JSON.
bool HasDuplicateKeys(std::string_view text);

/// The canonical encoding of an event's hashed fields (everything but prev_hash and hash).
std::string CanonicalEvent(const StoredEvent& event);

/// sha256_hex(prev_hash || CanonicalEvent(event)); event.prev_hash and event.hash are ignored.
std::string ChainHash(std::string_view prev_hash, const StoredEvent& event);

/// Appends CanonicalEvent(ToStoredEvent(row)) to `out`, byte for byte, built from the stored
/// text without parsing it, when the row's detail is stored in canonical form
/// (IsCanonicalJson). False, with `out` unspecified, when it is not: then only the exact path
/// can say what the canonical event is.
bool AppendCanonicalEvent(const EventRow& row, std::string* out);

}  // namespace runbook
