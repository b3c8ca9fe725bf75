// Where the C library's and the dynamic linker's code lie: blocks they allocate for their own use
// (stdio and DIR buffers, NSS, TLS blocks) are handed to the kernel by internal calls no hook
// sees, so read sampling never covers them.
#pragma once

namespace dprof::c_library_code {

// Looks the ranges up (once; dl_iterate_phdr).
void locate();
bool contains(const void* pc);

}  // namespace dprof::c_library_code
