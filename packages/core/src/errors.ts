/** An error meant for the person running the tool: printed without a stack trace, exit code 2. */
export class CaptionerError extends Error {
  override name = 'CaptionerError';
  constructor(
    message: string,
    readonly exitCode = 2,
  ) {
    super(message);
  }
}
