#include "vfs/vfs.h"

#include <stdlib.h>

void vfs_names_free(char **names, size_t count)
{
	if (!names)
		return;
	for (size_t i = 0; i < count; i++)
		free(names[i]);
	free(names);
}
