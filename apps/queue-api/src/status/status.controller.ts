import { Controller, Get, Header } from '@nestjs/common';
import { ApiExcludeEndpoint, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { STATUS_CSS, STATUS_HTML, STATUS_JS } from './status-page';
import { StatusService, StatusSnapshot } from './status.service';

/** Only the page's own files, and nothing may frame it. */
const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

/**
 * The public status page (no key: it shows nothing secret). `GET /status` is the page, which
 * refreshes itself from `GET /status/data` every 5 s (`?refresh=<seconds>` to change it).
 */
@ApiTags('status')
@Controller('status')
export class StatusController {
  constructor(private readonly status: StatusService) {}

  @Get()
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/html; charset=utf-8')
  @Header('content-security-policy', CSP)
  @Header('cache-control', 'no-cache')
  page(): string {
    return STATUS_HTML;
  }

  @Get('data')
  @Header('cache-control', 'no-store')
  @ApiOperation({
    summary:
      'What the status page shows: readiness per service, worker heartbeats, queue depth, open incidents',
  })
  @ApiOkResponse({ description: '`{generatedAt, overall, services, workers, queueDepth, incidents}`' })
  data(): Promise<StatusSnapshot> {
    return this.status.snapshot();
  }

  @Get('status.js')
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/javascript; charset=utf-8')
  @Header('cache-control', 'public, max-age=300')
  script(): string {
    return STATUS_JS;
  }

  @Get('status.css')
  @ApiExcludeEndpoint()
  @Header('content-type', 'text/css; charset=utf-8')
  @Header('cache-control', 'public, max-age=300')
  style(): string {
    return STATUS_CSS;
  }
}
