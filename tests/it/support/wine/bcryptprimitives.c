/* Test support only, never shipped: Debian 12's Wine 8.0 has no
 * ProcessPrng in bcryptprimitives.dll, which Rust's std (1.78 and later)
 * imports on Windows for its random numbers, so a Rust .exe does not start
 * there (status c0000135). Placed beside the .exe, this DLL gives Wine the
 * one function, over RtlGenRandom (SystemFunction036), which it has.
 * Windows 10 and later have ProcessPrng themselves. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG n = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, n))
            return FALSE;
        data += n;
        len -= n;
    }
    return TRUE;
}
