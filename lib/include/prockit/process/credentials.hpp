// prockit/process/credentials.hpp — who a child runs as, looked up from the text a command line
// gives:
//
//   auto who = prockit::lookup_credentials("www-data:adm").value();
//   prockit::Command("worker").groups(who.groups).group(who.gid).user(who.uid);
//
// Form: USER[:GROUP]. USER is a name from the user database or a numeric UID; GROUP a group name
// or a numeric GID. Without GROUP the user's primary group is taken (for a UID with no database
// entry: the GID equal to the UID). The supplementary groups are the user's (getgrouplist), or
// only the GID for a UID with no entry.
#pragma once

#include <prockit/sys/result.hpp>

#include <string>
#include <string_view>
#include <sys/types.h>
#include <vector>

namespace prockit {

struct Credentials {
    uid_t uid = 0;
    gid_t gid = 0;
    std::vector<gid_t> groups;  ///< supplementary groups, gid first
    std::string user_name;      ///< empty for a UID with no database entry
};

/// Looks USER[:GROUP] up. An unknown name is Errc::not_found with the context
/// `look up user "<name>": no such user` (or group); an empty field is Errc::parse_error
/// (`parse user "<spec>": expected USER[:GROUP]`), and so is a numeric ID with no database entry
/// outside 0-4294967294 (`parse user "<spec>": user ID out of range (0-4294967294)`): (uid_t)-1
/// means "no change" to the kernel and larger numbers would wrap; a failing database lookup is
/// its errno.
Result<Credentials> lookup_credentials(std::string_view spec);

}  // namespace prockit
