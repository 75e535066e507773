#include "fd0_fixture.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

int fd0_ensure_open(void)
{
	if (fcntl(0, F_GETFD) >= 0)
		return 0;
	int fd = open("/dev/null", O_RDONLY);
	if (fd < 0)
		return -errno;
	if (fd == 0)
		return 0;
	/* Only reached if something raced us to 0; keep theirs. */
	close(fd);
	return fcntl(0, F_GETFD) >= 0 ? 0 : -EBADF;
}
