#include <stdio.h>
int main(void)
{
    puts("{\"code\":1,\"msg\":\"not implemented\"}");
    return 1;
}
