// The words of a shell command that may name a file it reads, as far as they are known before
// the run starts: what a plan binds of a `shell` step besides its text (SPEC §5, "every word
// of a shell command that names an existing regular file"). This is a reading of the command,
// not a shell: it follows quotes, backslashes, comments, redirections and here-documents,
// and leaves out every word whose text the shell would still expand.
#pragma once

#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace runbook {

/// The words of the shell command template `command`, quotes removed, in order of first
/// appearance, each once. A placeholder of a param in `params` stands for its value and is
/// part of the word around it, as the shell sees it (`scripts/{{ params.name }}.sh`).
/// Left out: words with any other placeholder (secrets, step results, env, run id, raw
/// placeholders), words the shell expands (`$`, an unquoted `*`, `?`, `[`, `{` or `}`, a
/// leading `~`), comments, here-document bodies and here-strings, the targets of output
/// redirections (`>`, `>>`, `>|`, `&>`, `2>`) and the file descriptor numbers of
/// redirections. Whether a word names a file is the caller's question.
std::vector<std::string> KnownCommandWords(std::string_view command,
                                           const std::map<std::string, std::string>& params);

}  // namespace runbook
