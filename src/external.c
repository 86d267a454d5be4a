/* external.c - the ExternalGuard box (see external.h). */
#include "external.h"
#include "config.h"
#include "os.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

void external_report(const char *call, const void *p, const char *what) {
    if (hk_cfg.external_mode == HK_EXT_IGNORE) return;
    char buf[256];
    snprintf(buf, sizeof buf, "hakmem: %s(): %s: %p (pid %d)%s\n", call, what, p, (int)getpid(),
             hk_cfg.external_mode == HK_EXT_ABORT ? "; aborting (HAKMEM_EXTERNAL=warn to continue)" : "");
    os_write_err(buf);
    if (hk_cfg.external_mode == HK_EXT_ABORT) abort();
}
