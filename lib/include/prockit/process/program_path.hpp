// prockit/process/program_path.hpp — where a program named on a command line is, and why it could
// not be run, found before a spawn so a tool can say so once:
//
//   auto where = prockit::find_program("grep");          // "/usr/bin/grep", or an error
//   if (auto interp = prockit::missing_interpreter("./build.sh"))  // "#!/no/such/sh" → "/no/such/sh"
//
// The search is the one Command::spawn and execvp do: a name with a '/' is taken as it is; any
// other is looked for in each directory of PATH (an empty entry is the current directory; an
// unset PATH searches /usr/local/bin:/usr/bin:/bin).
#pragma once

#include <prockit/sys/result.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace prockit {

/// The path of the first executable `program` in `path` (a PATH value; nullptr = the process's
/// PATH). Errors: ENOENT with the context `find 'x' in PATH` (or `execute ./x` for a name with a
/// '/'), EACCES when only files that cannot be executed were found.
Result<std::string> find_program(std::string_view program, const char* path = nullptr);

/// When `file` starts with a "#!" line naming an interpreter that does not exist, that
/// interpreter (execve gives ENOENT for such a script, as for a missing file). std::nullopt
/// otherwise, also when `file` cannot be read.
std::optional<std::string> missing_interpreter(const std::string& file);

}  // namespace prockit
