/* planasonix-mcp entry point (wiring comes in app/cli.c). */
#include <stdio.h>

int main(void)
{
    puts("planasonix-mcp");
    return 0;
}
