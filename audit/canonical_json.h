// Recognising canonical JSON text without parsing it, for the hash chain's fast path
// (hash_chain.h, chain_verify.h). The log stores each event's detail in canonical form
// (CanonicalJson: compact, keys sorted by byte order, UTF-8), and the chain hash covers that
// form; so when the stored text is canonical, it can be hashed as it is stored, instead of
// being parsed, rebuilt and written out again for every event.
//
// The recogniser is deliberately narrower than canonical JSON: it accepts only text that it can
// prove, byte by byte, is what CanonicalJson(ParseStoredJson(text)) would write:
//   - no whitespace outside strings; objects' keys in strictly increasing byte order (so never
//     a key twice) and without escapes;
//   - strings of valid UTF-8 (RFC 3629: no overlong forms, no surrogates), every byte below
//     0x20 escaped, escapes only as CanonicalJson writes them: \" \\ \b \f \n \r \t, and
//     \u00XX in lower-case hex for the other control characters;
//   - integers of at most 18 digits without a leading zero (no -0); true, false, null;
//   - nesting at most 64 deep.
// Anything else (a float, a long integer, "\/", "\u00e9", a pretty-printed detail) is not
// recognised, and the caller takes the exact path. Never a false positive; false negatives only
// cost time.
#pragma once

#include <string>
#include <string_view>

namespace runbook {

/// Whether `text` is, byte for byte, CanonicalJson(*ParseStoredJson(text)), within the forms
/// described above. Linear in the text's length; never throws.
bool IsCanonicalJson(std::string_view text);

/// Appends `text` as a JSON string, byte for byte as CanonicalJson writes it (escapes as
/// above, invalid UTF-8 replaced by U+FFFD).
void AppendCanonicalString(std::string_view text, std::string* out);

/// Whether `text` needs no escape in a JSON string (printable ASCII and DEL, but '"' and '\\'):
/// then AppendCanonicalString writes it between quotes as it is.
bool IsPlainText(std::string_view text);

}  // namespace runbook
