/* see drot/status.h */
#include "drot/status.h"

const char *drot_status_str(drot_status st)
{
    switch (st) {
    case DROT_OK: return "ok";
    case DROT_E_ARG: return "invalid argument";
    case DROT_E_BUFFER: return "output buffer too small";
    case DROT_E_MALFORMED: return "malformed input";
    case DROT_E_TRUNCATED: return "input truncated";
    case DROT_E_TRAILING: return "trailing bytes after input";
    case DROT_E_TOO_LARGE: return "input or field too large";
    case DROT_E_UNSUPPORTED: return "unsupported algorithm or feature";
    case DROT_E_VERIFY: return "signature, MAC or tag does not verify";
    case DROT_E_BADKEY: return "invalid key";
    case DROT_E_CRYPTO: return "crypto backend failure";
    case DROT_E_RNG: return "random source failure";
    case DROT_E_CLAIM_MISSING: return "mandatory claim missing";
    case DROT_E_CLAIM_INVALID: return "claim has wrong type, size or value";
    case DROT_E_DUPLICATE: return "duplicate map key";
    case DROT_E_DEPTH: return "nesting too deep";
    case DROT_E_STATE: return "call out of order";
    case DROT_E_UNKNOWN_CLAIM: return "claim not allowed in this profile";
    }
    return "unknown status";
}
