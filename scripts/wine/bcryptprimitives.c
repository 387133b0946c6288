/* Wine 8 (Debian 12) has no bcryptprimitives.dll, which Rust's std imports on Windows for
 * ProcessPrng. This stand-in serves it from RtlGenRandom so the Windows build can run under
 * wine in the smoke test. Test tooling only: never shipped. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
    return SystemFunction036(data, (ULONG)length);
}
